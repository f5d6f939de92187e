"""Coefficient names as R prints them (``names="r"``) and R's spline bases, against lme4
fits of tests/reference/r_names.R: the names of the fixed effects and of the random
effects' columns, the estimates, SEs and log-likelihoods, and the spline models'
predictions beyond the training range."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from lme4_reference import load_reference

REF = load_reference("r_names")
CASES = sorted(k for k, v in REF.items() if isinstance(v, dict) and k != "glmm_period")


def _data(name: str) -> pd.DataFrame:
    if name == "sleep":
        data = mm.datasets.load("sleepstudy")
        data["late"] = data["Days"] > 4
        return data
    data = mm.datasets.load("cake")
    if name == "cake_ordered":
        data["temperature"] = pd.Categorical(data["temp"], ordered=True)
    return data


def _check_estimates(fit: mm.LmmResult | mm.GlmmResult, ref: dict) -> None:
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-5)
    se = np.array(ref["se"])
    # the tolerances of tests/reference/README.md
    np.testing.assert_array_less(np.abs(fit.beta - ref["fixef"]), 1e-3 * se)
    np.testing.assert_allclose(fit.std_errors.to_numpy(), se, rtol=1e-3)


@pytest.mark.parametrize("case", CASES)
def test_r_names_are_lme4s(case: str) -> None:
    ref = REF[case]
    contrasts = {"recipe": ref["contrasts"]} if ref.get("contrasts") else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.RankDeficiencyWarning)  # I(Days * 2 - 1)
        fit = mm.lmm(ref["formula"], _data(ref["data"]), contrasts=contrasts, names="r")
    assert list(fit.fixed_names) == ref["names"]
    assert list(fit.fixef.index) == ref["names"]
    columns = ref["ranef_columns"]
    columns = [columns] if isinstance(columns, str) else columns
    assert list(fit.ranef()["term"].unique()) == columns
    _check_estimates(fit, ref)
    if "anova" in ref:  # a logical is sum-coded in type III tests, as lmerTest codes it
        table = fit.anova()
        assert list(table.index) == ref["anova"]["term"]
        np.testing.assert_allclose(table["F"], ref["anova"]["F"], rtol=1e-4)
        np.testing.assert_allclose(table["dendf"], ref["anova"]["dendf"], rtol=1e-2)
        np.testing.assert_allclose(table["p_value"], ref["anova"]["p"], rtol=1e-3)
    if "predict_population" in ref:
        new = pd.DataFrame({"Days": REF["new_days"], "Subject": "308"})
        np.testing.assert_allclose(
            fit.predict(new, re=False).to_numpy(), ref["predict_population"], rtol=1e-5
        )


def test_r_names_of_a_glmm() -> None:
    ref = REF["glmm_period"]
    fit = mm.glmm(ref["formula"], mm.datasets.load("cbpp"), family="binomial", names="r")
    assert list(fit.fixef.index) == ref["names"]
    # lme4's default glmer is inexact (PIRLS tolerance, finite-difference Hessian): the
    # numbers are compared with its tight fit of the same model (tests/reference/reference.R)
    tight = load_reference("cbpp_laplace")["tight"]
    assert fit.loglik == pytest.approx(tight["logLik"], abs=1e-4)
    se = np.array([tight["se"][n] for n in ref["names"]])
    np.testing.assert_array_less(
        np.abs(fit.beta - [tight["fixef"][n] for n in ref["names"]]), 1e-3 * se
    )
    np.testing.assert_allclose(fit.std_errors.to_numpy(), se, rtol=1e-3)


def test_default_names_keep_variable_and_level_apart() -> None:
    data = _data("sleep")
    fit = mm.lmm("Reaction ~ late * Days + (0 + late | Subject)", data)
    assert list(fit.fixed_names) == ["(Intercept)", "late[T.True]", "Days", "late[T.True]:Days"]
    assert list(fit.ranef()["term"].unique()) == ["late[False]", "late[True]"]
    same = mm.lmm("Reaction ~ late * Days + (0 + late | Subject)", data, names="r")
    np.testing.assert_array_equal(fit.beta, same.beta)
    # the names follow the model through update and its tests
    updated = same.update(reml=False)
    assert list(updated.fixed_names) == ["(Intercept)", "lateTRUE", "Days", "lateTRUE:Days"]
    assert list(same.anova().index) == ["late", "Days", "late:Days"]


def test_a_name_style_that_is_not_one() -> None:
    with pytest.raises(mm.ModelSpecError, match="names must be one of 'python', 'r'"):
        mm.lmm("Reaction ~ Days + (1 | Subject)", mm.datasets.load("sleepstudy"), names="R")


def test_r_deparse_spaces_as_r() -> None:
    from mixedmodels.design.rnames import r_deparse

    assert r_deparse("I(x ** 2)") == "I(x^2)"
    assert r_deparse("bs(x, df=4)") == "bs(x, df = 4)"
    assert r_deparse("I(-x/2)") == "I(-x/2)"
    assert r_deparse("I(x*-2)") == "I(x * -2)"
    assert r_deparse("log(x,2)") == "log(x, 2)"
