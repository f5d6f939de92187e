"""The LMM's verbs on GLMM results, against tight lme4 fits (tests/reference/glmm_verbs.R):
``update`` with a new formula, another ``nagq``, other data and a kept offset; ``mm.anova``
between the updates; type III Wald chi-square tests (car::Anova); profile intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from lme4_reference import load_data, load_reference, r_name
from tiers import full_tier

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


def test_type3_wald_tests_are_cars(binomial: mm.GlmmResult) -> None:
    """car::Anova(type = 3): a main effect (cbpp's period), and an interaction model
    that car tests on its sum-coded fit, ours from the default coding."""
    table = binomial.anova()
    ref = REF["wald3"]
    assert list(table.index) == ["period"]
    assert table.loc["period", "df"] == ref["df"][1]
    assert table.loc["period", "chisq"] == pytest.approx(ref["chisq"][1], rel=2e-3)
    assert table.loc["period", "p_value"] == pytest.approx(ref["p"][1], rel=1e-3)
    ref = REF["wald3_interaction"]
    data = load_data("Contraception")
    table = mm.glmm(ref["formula"], data, family="binomial").anova()
    assert list(table.index) == ref["term"][1:]
    np.testing.assert_allclose(table["chisq"], ref["chisq"][1:], rtol=2e-3)
    np.testing.assert_allclose(table["p_value"], ref["p"][1:], rtol=1e-3)


def _within_width(ours: pd.DataFrame, ref: dict, rows: list[str] | None = None) -> None:
    """Profile bounds within 2e-3 of the interval's width (tests/reference/README.md)."""
    table = pd.DataFrame({"lower": ref["lower"], "upper": ref["upper"]}, index=ref["rows"])
    if rows is not None:
        table = table.loc[rows]
    mine = ours.rename(index=r_name).loc[table.index]
    width = (table["upper"] - table["lower"]).to_numpy()
    np.testing.assert_array_less(np.abs(mine["lower"] - table["lower"]).to_numpy(), 2e-3 * width)
    np.testing.assert_array_less(np.abs(mine["upper"] - table["upper"]).to_numpy(), 2e-3 * width)


@pytest.mark.parametrize(
    ("case", "formula", "family"),
    [
        ("profile_binomial", CBPP, "binomial"),
        ("profile_poisson", "incidence ~ period + offset(log(size)) + (1 | herd)", "poisson"),
        ("profile_contraception", "use ~ age + urban + (1 | district)", "binomial"),
    ],
)
def test_profile_intervals_are_lme4s(case: str, formula: str, family: str) -> None:
    data = load_data("Contraception") if "district" in formula else mm.datasets.load("cbpp")
    fit = mm.glmm(formula, data, family=family)
    ours = fit.confint()  # profile by default, as lme4's confint
    assert [r_name(n) for n in ours.index] == REF[case]["rows"]
    _within_width(ours, REF[case])
    narrow = fit.confint(level=0.5)
    assert (narrow["lower"] > ours["lower"]).all() and (narrow["upper"] < ours["upper"]).all()


@full_tier
def test_profile_of_a_correlation_where_lme4_interpolates() -> None:
    """A random slope's correlation. lme4 warns that its profile of the correlation is
    "non-monotonic" and falls back to linear interpolation ("bad spline fit"); its
    bounds are then not where the profile reaches the quantile: the profiled deviance
    at them gives zeta -1.935 and +1.968. Ours are where it does, the minimization over
    the other parameters checked by Nelder-Mead from another start; the other rows
    agree with lme4's."""
    from scipy import optimize, stats

    from mixedmodels.inference.glmm_profile import _GlmmProfile, glmm_profile_intervals

    ref = REF["profile_slopes"]
    fit = mm.glmm(
        "use ~ age + urban + (urban | district)", load_data("Contraception"), family="binomial"
    )
    cor = "cor_urban[T.Y].(Intercept)|district"
    ours = glmm_profile_intervals(fit, which=lambda n: n in (cor, "urban[T.Y]"))
    _within_width(ours, ref, ["urbanY"])
    profile = _GlmmProfile(fit)
    i = profile.names.index(cor)
    others = [j for j in range(profile.hat.size) if j != i]
    z = stats.norm.ppf(0.975)
    lme4 = dict(zip(ref["rows"], zip(ref["lower"], ref["upper"], strict=True), strict=True))
    lme4_bounds = lme4["cor_urbanY.(Intercept)|district"]
    for bound, theirs in zip(ours.loc[cor], lme4_bounds, strict=True):
        deviance, where = profile.profiled(i, bound, profile.hat)
        assert np.sqrt(deviance - profile.d_hat) == pytest.approx(z, abs=1e-4)

        def at(x: np.ndarray, where: np.ndarray = where) -> float:
            params = where.copy()
            params[others] = x
            return profile.deviance(params)

        start = where[others] + 0.01 * profile._units()[others]
        check = optimize.minimize(
            at,
            start,
            method="Nelder-Mead",
            options={"xatol": 1e-8, "fatol": 1e-10, "maxfev": 20000},
        )
        assert check.fun >= deviance - 1e-7
        theirs_deviance, _ = profile.profiled(i, theirs, profile.hat)
        assert abs(np.sqrt(theirs_deviance - profile.d_hat) - z) > 5e-3


def test_profile_traces_cross_the_interval_bounds(binomial: mm.GlmmResult) -> None:
    """lme4's profile(): zeta rises through 0 at the estimate and reaches the 99 %
    quantile at the ends; interpolated at +-1.96 it gives the 95 % interval."""
    traces = binomial.profile()
    bounds = binomial.confint()
    assert list(dict.fromkeys(traces["name"])) == list(bounds.index)
    for name, trace in traces.groupby("name", sort=False):
        zeta, value = trace["zeta"].to_numpy(), trace["value"].to_numpy()
        assert np.all(np.diff(zeta) > 0)
        np.testing.assert_allclose(zeta[[0, -1]], [-2.5758, 2.5758], atol=1e-3)
        width = bounds.loc[name, "upper"] - bounds.loc[name, "lower"]
        ends = np.interp([-1.959964, 1.959964], zeta, value)
        np.testing.assert_allclose(ends, bounds.loc[name].to_numpy(), atol=2e-2 * width)


def test_lmm_and_glmm_verbs_take_the_same_arguments(binomial: mm.GlmmResult) -> None:
    import inspect

    for verb in ("predict", "confint", "simulate", "refit", "refit_ml"):
        lmm_verb = inspect.signature(getattr(mm.LmmResult, verb))
        glmm_verb = inspect.signature(getattr(mm.GlmmResult, verb))
        assert list(lmm_verb.parameters) == list(glmm_verb.parameters), verb
    assert "scaled" in inspect.signature(mm.GlmmResult.residuals).parameters
    sleep = mm.datasets.load("sleepstudy")
    lmm = mm.lmm("Reaction ~ Days + (1 | Subject)", sleep)
    np.testing.assert_array_equal(lmm.predict(sleep, type="link"), lmm.predict(sleep))
    with pytest.raises(mm.ModelSpecError, match="pass the type by name"):
        lmm.predict("link")
    with pytest.raises(mm.ModelSpecError, match="pass the type by name"):
        binomial.predict("link")
    # a binomial's scale is 1, as lme4's sigma()
    np.testing.assert_array_equal(binomial.residuals(scaled=True), binomial.residuals())
