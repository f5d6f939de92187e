"""The LMM's verbs on GLMM results, against tight lme4 fits (tests/reference/glmm_verbs.R):
``update`` with a new formula, another ``nagq``, other data and a kept offset; ``mm.anova``
between the updates; type III Wald chi-square tests (car::Anova); profile intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from lme4_reference import load_reference, r_name

REF = load_reference("glmm_verbs")
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def cbpp() -> pd.DataFrame:
    return mm.datasets.load("cbpp")


@pytest.fixture(scope="module")
def binomial(cbpp: pd.DataFrame) -> mm.GlmmResult:
    return mm.glmm(CBPP, cbpp, family="binomial")


def _check(fit: mm.GlmmResult, ref: dict) -> None:
    """The kit's tolerances (tests/reference/README.md) against a tight lme4 fit."""
    assert [r_name(n) for n in fit.fixed_names] == list(np.atleast_1d(ref["names"]))
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-4)
    se = fit.std_errors.to_numpy()
    np.testing.assert_array_less(np.abs(fit.beta - np.atleast_1d(ref["fixef"])), 1e-3 * se)
    np.testing.assert_allclose(fit.theta, np.atleast_1d(ref["theta"]), rtol=1e-3)


def test_the_tight_fit_is_ours(binomial: mm.GlmmResult) -> None:
    _check(binomial, REF["g"])


def test_update_with_a_new_formula_and_the_anova_between(binomial: mm.GlmmResult) -> None:
    smaller = binomial.update(". ~ . - period")
    _check(smaller, REF["g0"])
    table = mm.anova(smaller, binomial)
    assert table["chisq"].iloc[1] == pytest.approx(REF["anova"]["chisq"], abs=2e-4)
    assert table["df"].iloc[1] == REF["anova"]["df"]
    assert table["p_value"].iloc[1] == pytest.approx(REF["anova"]["p"], rel=1e-3)


def test_update_nagq_and_data(binomial: mm.GlmmResult, cbpp: pd.DataFrame) -> None:
    quadrature = binomial.update(nagq=9)
    assert quadrature.nagq == 9
    # (lme4's logLik omits the saturated binomial's log-likelihood for nAGQ > 1: the
    # estimates are compared)
    se = quadrature.std_errors.to_numpy()
    np.testing.assert_array_less(np.abs(quadrature.beta - REF["g9"]["fixef"]), 1e-3 * se)
    np.testing.assert_allclose(quadrature.theta, REF["g9"]["theta"], rtol=1e-3)
    half = cbpp[cbpp["herd"].astype(str).isin(REF["half_herds"])]
    _check(binomial.update(data=half), REF["half"])


def test_update_keeps_the_offset(cbpp: pd.DataFrame) -> None:
    rate = mm.glmm("incidence ~ period + offset(log(size)) + (1 | herd)", cbpp, family="poisson")
    _check(rate, REF["p"])
    _check(rate.update(". ~ . - period"), REF["p0"])
    # an offset= argument is kept too, and the same model results
    given = mm.glmm(
        "incidence ~ period + (1 | herd)", cbpp, family="poisson", offset=np.log(cbpp["size"])
    )
    _check(given.update(". ~ . - period"), REF["p0"])


def test_update_names_a_column_the_fit_did_not_keep(binomial: mm.GlmmResult) -> None:
    with pytest.raises(mm.ModelSpecError, match="reads 'temperature', which this fit did not keep"):
        binomial.update(". ~ . + temperature")


def test_refit_ml_of_a_glmm_is_the_fit(binomial: mm.GlmmResult) -> None:
    assert binomial.refit_ml() is binomial
