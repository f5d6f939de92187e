"""More lme4 idioms as users write them (tests/reference/idioms.R): a term subtracted
after a random one, ``%in%``, R's ``pmin``/``pmax``/``ifelse``/``relevel`` and lme4's
``dummy()``, and R's spelling of a family. Names (``names="r"``), log-likelihoods,
estimates, SEs, theta and predictions on new data against lme4."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from lme4_reference import load_reference

REF = load_reference("idioms")
CASES = sorted(k for k, v in REF.items() if isinstance(v, dict))


def _data(name: str) -> pd.DataFrame:
    if name == "sleep":
        data = mm.datasets.load("sleepstudy")
        data["g2"] = (data["Subject"].cat.codes % 3).astype(str)
        return data
    return mm.datasets.load(name)


@pytest.mark.parametrize("case", CASES)
def test_idiom_is_read_as_lme4_reads_it(case: str) -> None:
    ref = REF[case]
    data = _data(ref["data"])
    fit = mm.lmm(ref["formula"], data, names="r")
    assert list(fit.fixed_names) == list(np.atleast_1d(ref["names"]))
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-5)
    se = np.atleast_1d(ref["se"])
    np.testing.assert_array_less(np.abs(fit.beta - np.atleast_1d(ref["fixef"])), 1e-3 * se)
    np.testing.assert_allclose(fit.std_errors.to_numpy(), se, rtol=1e-3)
    np.testing.assert_allclose(fit.theta, ref["theta"], rtol=1e-3, atol=1e-4)
    rows = np.asarray(REF["rows"]) - 1  # R counts from 1
    # the tolerance of fitted values: 1e-3 x the residual SD
    atol = 1e-3 * fit.sigma
    np.testing.assert_allclose(fit.predict(data).to_numpy()[rows], ref["predict"], atol=atol)
    # a few new rows alone: the training levels are remembered (R's relevel() is
    # evaluated again on them and fails when they lack the reference level)
    np.testing.assert_allclose(fit.predict(data.iloc[rows]).to_numpy(), ref["predict"], atol=atol)


def test_r_spellings_of_a_family() -> None:
    data = mm.datasets.load("cbpp")
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    probit = mm.glmm(formula, data, family="binomial", link="probit")
    for spelling in ("binomial(link = 'probit')", 'binomial(link="probit")', "binomial('probit')"):
        same = mm.glmm(formula, data, family=spelling)
        assert same.link == "probit"
        assert same.loglik == probit.loglik
    assert mm.glmm(formula, data, family="binomial()").link == "logit"
    with pytest.raises(mm.ModelSpecError, match="name two links"):
        mm.glmm(formula, data, family="binomial(link = 'probit')", link="logit")


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("Reaction ~ Days + (1 | Subject) - (1 | Subject)", "added, not subtracted"),
        ("Reaction ~ as.factor(Days) + (1 | Subject)", "write factor"),
        ("Reaction ~ relevel(factor(Days), ref = 'x') + (1 | Subject)", "'x' is not a level"),
        ("Reaction ~ Days + (0 + dummy(Subject, 'x') | Subject)", "'x' is not a level"),
    ],
)
def test_idioms_misused_say_what_is_wrong(formula: str, message: str) -> None:
    with pytest.raises(mm.FormulaError, match=message):
        mm.lmm(formula, mm.datasets.load("sleepstudy"))
