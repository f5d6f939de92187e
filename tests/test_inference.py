"""Satterthwaite t tests against lmerTest, likelihood-ratio tests against lme4."""

from __future__ import annotations

import csv
import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from lme4_reference import REFERENCE, fit_reference, load_reference, r_name
from tiers import full_tier


def _lmer_cases(extra: str) -> list[str]:
    """The lmer reference cases whose extras include ``extra``."""
    out = []
    for file in ("cases.tsv", "cases_extra.tsv"):
        with (REFERENCE / file).open() as fh:
            out += [
                r["id"]
                for r in csv.DictReader(fh, delimiter="\t")
                if r["kind"] == "lmer" and extra in (r["extras"] or "")
            ]
    return out


@pytest.mark.parametrize("case", _lmer_cases("satt"))
def test_satterthwaite_matches_lmertest(case: str) -> None:
    ref = load_reference(case)
    fit = fit_reference(ref)
    table = fit.coef_table(ddf="satterthwaite")
    table.index = [r_name(n) for n in table.index]
    table = table.loc[list(ref["fixef"])]  # lme4's order
    want = ref["satterthwaite"]
    # df: 1e-2 relative (lmerTest differentiates numerically); p: 1e-3 relative or 1e-6
    np.testing.assert_allclose(table["df"], want["df"], rtol=1e-2)
    np.testing.assert_allclose(table["statistic"], want["t"], rtol=1e-3)
    p, p_ref = table["p_value"].to_numpy(), np.atleast_1d(want["p"])
    assert np.all(np.abs(p - p_ref) <= np.maximum(1e-3 * p_ref, 1e-6)), (p, p_ref)


def test_coef_table_variants_and_intervals() -> None:
    fit = mm.lmm("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    normal = fit.coef_table(ddf="normal")
    assert np.all(np.isinf(normal["df"]))
    residual = fit.coef_table(ddf="residual", level=0.9)
    assert np.all(residual["df"] == 178)
    width = residual["upper"] - residual["lower"]
    assert np.all(width > 0) and np.all(width < normal["upper"] - normal["lower"])
    with pytest.raises(ValueError, match="ddf must be"):
        fit.coef_table(ddf="containment")


def test_lrt_matches_lme4_ml_logliks() -> None:
    """lme4's anova() of the two sleepstudy models. lme4 1.1-31 gave (R: m0 <- lmer(
    Reaction ~ Days + (1|Subject), sleepstudy, REML = FALSE); m1 the (Days|Subject) model;
    anova(m0, m1)): logLik(m0) -897.039321503, Chisq 42.13929852 on 2 df,
    Pr(>Chisq) 7.072412638e-10; logLik(m1) is in the reference kit."""
    data = mm.datasets.load("sleepstudy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small = mm.lmm("Reaction ~ Days + (1 | Subject)", data, reml=False)
        large = mm.lmm("Reaction ~ Days + (Days | Subject)", data, reml=False)
    table = mm.anova(large, small)
    ml = load_reference("sleepstudy_slopes_ml")["logLik"]  # lme4's ML logLik, slopes
    # lme4's ML logLik of the intercept model (logLik(lmer(..., REML = FALSE)))
    assert table["loglik"].iloc[1] == pytest.approx(ml, abs=1e-4)
    assert table["df"].iloc[1] == 2
    assert table["loglik"].iloc[0] == pytest.approx(-897.039321503, abs=1e-4)
    assert table["chisq"].iloc[1] == pytest.approx(42.13929852, abs=2e-4)
    assert table["p_value"].iloc[1] == pytest.approx(7.072412638e-10, rel=1e-3)


def test_lrt_refits_reml_fits_and_refuses_mismatched_data() -> None:
    data = mm.datasets.load("sleepstudy")
    a = mm.lmm("Reaction ~ 1 + (1 | Subject)", data)
    b = mm.lmm("Reaction ~ Days + (1 | Subject)", data)
    with pytest.raises(mm.ModelSpecError, match="needs REML fits with the same fixed effects"):
        mm.anova(a, b, refit=False)
    table = mm.anova(a, b)
    assert "refitted by maximum likelihood" in table.attrs["note"]
    fewer = mm.lmm("Reaction ~ Days + (1 | Subject)", data.iloc[:170])
    with pytest.raises(mm.ModelSpecError, match="different numbers of observations"):
        mm.anova(b, fewer)
    assert isinstance(table, pd.DataFrame)


@pytest.mark.parametrize("case", _lmer_cases("profile"))
def test_profile_intervals_match_lme4(case: str) -> None:
    """confint(method = "profile"): within 2e-3 of each interval's width, same rows in
    the same order (lme4 profiles the ML deviance, also for REML fits)."""
    ref = load_reference(case)
    fit = fit_reference(ref)
    got = fit.confint("profile")
    want = ref["profile_ci"]
    assert [r_name(n) for n in got.index] == want["names"]
    for i, name in enumerate(want["names"]):
        width = want["upper"][i] - want["lower"][i]
        assert abs(got["lower"].iloc[i] - want["lower"][i]) <= 2e-3 * width, name
        assert abs(got["upper"].iloc[i] - want["upper"][i]) <= 2e-3 * width, name


def test_wald_and_boot_intervals() -> None:
    fit = mm.lmm("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    wald = fit.confint("wald")
    assert wald.iloc[:4].isna().all().all()  # variance parameters: NaN, as in lme4
    se = fit.std_errors["Days"]
    assert wald.loc["Days", "upper"] - fit.fixef["Days"] == pytest.approx(1.959964 * se)
    boot = fit.confint("boot", n_boot=40, seed=3)
    assert list(boot.index) == list(wald.index)
    assert (boot["lower"] < boot["upper"]).all()
    assert boot.loc["sigma", "lower"] < fit.sigma < boot.loc["sigma", "upper"]
    with pytest.raises(ValueError, match="method must be"):
        fit.confint("likelihood")


def _anova_cases() -> list[str]:
    out = []
    for file in ("cases.tsv", "cases_extra.tsv"):
        with (REFERENCE / file).open() as fh:
            for r in csv.DictReader(fh, delimiter="\t"):
                if r["kind"] == "lmer" and "anova_satterthwaite" in load_reference(r["id"]):
                    out.append(r["id"])
    return out


@pytest.mark.parametrize("case", _anova_cases())
def test_type3_anova_matches_lmertest(case: str) -> None:
    ref = load_reference(case)
    want = ref["anova_satterthwaite"]
    terms = want["term"] if isinstance(want["term"], list) else [want["term"]]
    got = fit_reference(ref).anova()
    assert list(got.index) == terms
    np.testing.assert_allclose(got["numdf"], np.atleast_1d(want["numdf"]))
    np.testing.assert_allclose(got["dendf"], np.atleast_1d(want["dendf"]), rtol=1e-2)
    np.testing.assert_allclose(got["F"], np.atleast_1d(want["F"]), rtol=1e-3)
    p, p_ref = got["p_value"].to_numpy(), np.atleast_1d(want["p"])
    assert np.all(np.abs(p - p_ref) <= np.maximum(1e-3 * p_ref, 1e-6)), (p, p_ref)


@pytest.mark.parametrize("case", ["sleepstudy_slopes", "sleepstudy_intercept"])
def test_kenward_roger_matches_pbkrtest(case: str) -> None:
    ref = load_reference(case)
    table = fit_reference(ref).coef_table(ddf="kenward-roger")
    want = ref["kenward_roger"]
    np.testing.assert_allclose(table["df"], want["df"], rtol=1e-2)
    np.testing.assert_allclose(table["std_error"], want["se"], rtol=1e-3)
    p, p_ref = table["p_value"].to_numpy(), np.asarray(want["p"])
    assert np.all(np.abs(p - p_ref) <= np.maximum(1e-3 * p_ref, 1e-6))


def test_kenward_roger_anova_and_its_limits() -> None:
    data = mm.datasets.load("sleepstudy")
    fit = mm.lmm("Reaction ~ Days + (1 | Subject)", data)
    table = fit.anova(ddf="kenward-roger")
    # one numerator df: the F test is the square of the t test
    t = fit.coef_table(ddf="kenward-roger").loc["Days", "statistic"]
    assert table.loc["Days", "F"] == pytest.approx(t**2, rel=1e-6)
    with pytest.raises(mm.ModelSpecError, match="REML"):
        mm.lmm("Reaction ~ Days + (1 | Subject)", data, reml=False).coef_table("kenward-roger")
    from mixedmodels.inference import kenward_roger

    saved = kenward_roger.MAX_RANDOM_EFFECTS
    kenward_roger.MAX_RANDOM_EFFECTS = 10
    try:
        with pytest.raises(mm.ModelSpecError, match="18 random effects.*use ddf='satterthwaite'"):
            fit.coef_table(ddf="kenward-roger")
    finally:
        kenward_roger.MAX_RANDOM_EFFECTS = saved


@full_tier
def test_variance_test_matches_rlrsim_exact_rlrt() -> None:
    """RLRsim 3.1-8 on Dyestuff (R: exactRLRT(lmer(Yield ~ 1 + (1|Batch), Dyestuff),
    nsim = 1e5) after set.seed(1)): RLRT = 6.369, p-value = 0.00463."""
    fit = mm.lmm("Yield ~ 1 + (1 | Batch)", mm.datasets.load("Dyestuff"))
    result = mm.variance_test(fit, n_sim=2000, seed=11)
    assert result.statistic == pytest.approx(6.369, abs=1e-3)
    # Monte Carlo error of 2,000 simulations at p = 0.0046: SE 0.0015; allow 3.5 SE
    assert abs(result.p_simulated - 0.00463) < 3.5 * np.sqrt(0.00463 * 0.99537 / 2000)
    assert result.p_mixture == pytest.approx(0.5 * 0.011613, rel=1e-2)


def test_variance_test_on_a_boundary_fit_and_bad_input() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        singular = mm.lmm("Yield ~ 1 + (1 | Batch)", mm.datasets.load("Dyestuff2"))
    result = mm.variance_test(singular, n_sim=20, seed=1)
    assert result.statistic == 0.0 and result.p_mixture == 1.0
    slopes = mm.lmm("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    with pytest.raises(mm.ModelSpecError, match="one scalar random effect"):
        mm.variance_test(slopes)


def test_profile_traces_for_plotting() -> None:
    fit = mm.lmm("Yield ~ 1 + (1 | Batch)", mm.datasets.load("Dyestuff"))
    traces = fit.profile(level=0.95)
    assert list(traces.columns) == ["name", "value", "zeta"]
    assert list(dict.fromkeys(traces["name"])) == ["sd_(Intercept)|Batch", "sigma", "(Intercept)"]
    for _, part in traces.groupby("name"):
        assert (np.diff(part["zeta"].to_numpy()) >= -1e-9).all()  # zeta increases
        assert part["zeta"].min() <= -1.95 or part["value"].min() == 0.0
        assert part["zeta"].max() >= 1.95


@pytest.mark.parametrize("case", ["refit", "no_refit", "weighted", "fixed"])
def test_lrt_between_reml_fits_is_lme4s(case: str) -> None:
    """lme4's anova() of REML fits (tests/reference/anova_reference.R): refitted by ML
    from the fits' own rows with their weights and offset, or with refit=False compared
    on the REML likelihoods."""
    ref = load_reference("anova_reference")[case]
    data = mm.datasets.load("sleepstudy").assign(
        w=lambda d: 1 + d["Days"] / 10, off=lambda d: 2 * d["Days"]
    )
    extra = {"weights": "w", "offset": "off"} if case == "weighted" else {}
    small = (
        "Reaction ~ 1 + (Days | Subject)" if case == "fixed" else "Reaction ~ Days + (1 | Subject)"
    )
    a = mm.lmm(small, data, **extra)
    b = mm.lmm("Reaction ~ Days + (Days | Subject)", data, **extra)
    table = mm.anova(a, b, refit=case != "no_refit")
    np.testing.assert_allclose(table["loglik"], ref["loglik"], atol=1e-4)
    assert table["npar"].tolist() == ref["npar"]
    assert table["chisq"].iloc[1] == pytest.approx(ref["chisq"][1], abs=2e-4)
    assert table["p_value"].iloc[1] == pytest.approx(ref["p"][1], rel=1e-3)


def test_lrt_refuses_fits_to_different_responses() -> None:
    data = mm.datasets.load("sleepstudy")
    a = mm.lmm("Reaction ~ Days + (1 | Subject)", data, reml=False)
    b = mm.lmm(
        "Reaction ~ Days + (Days | Subject)", data.assign(Reaction=data.Reaction * 2), reml=False
    )
    with pytest.raises(mm.ModelSpecError, match="different responses"):
        mm.anova(a, b)


@pytest.mark.parametrize(
    ("dataset", "formula"),
    [
        ("sleepstudy", "Reaction ~ Days + (Days | Subject)"),  # centred and scaled slope
        ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)"),
        ("Oxboys", "height ~ age + (age + I(age**2) | Subject)"),
    ],
)
def test_profile_map_and_its_jacobian_match_the_conditioned_theta(dataset, formula) -> None:
    """The closed-form map from (SDs, correlations, sigma) to the model's own theta, and
    its Jacobian, against the conditioning's map and its central differences."""
    from mixedmodels.inference.profile import _Profiler

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = mm.lmm(formula, mm.datasets.load(dataset), reml=False)
    prof = _Profiler(fit)
    rng = np.random.default_rng(3)
    varpar = prof.estimate * rng.uniform(0.8, 1.2, prof.estimate.size)
    theta_c, J = prof._theta_c_and_jacobian(varpar)
    np.testing.assert_allclose(theta_c, prof._theta_c(varpar), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(J, prof._jacobian(varpar, theta_c), rtol=1e-5, atol=1e-7)
    # and the deviance's gradient against its own central differences (steps of 1e-5:
    # the deviance carries rounding of about 1e-10, which steps of 1e-6 turn into errors
    # of 1e-4 on Oxboys' third-order term)
    dev, grad = prof.deviance(varpar)
    for k in range(varpar.size):
        h = 1e-5 * max(abs(varpar[k]), 1e-2)
        e = np.zeros_like(varpar)
        e[k] = h
        numeric = (prof.deviance(varpar + e)[0] - prof.deviance(varpar - e)[0]) / (2 * h)
        assert grad[k] == pytest.approx(numeric, rel=1e-5, abs=1e-5)


def test_lme4_accessors_under_their_names() -> None:
    """deviance, REMLcrit and df.residual as lme4 gives them (anova_reference.R). The
    GLMM's deviance (the squared deviance residuals) follows lme4's conditional modes,
    which its default PIRLS tolerance leaves 3e-5 from converged (tests/reference/README.md)."""
    ref = load_reference("anova_reference")["accessors"]
    data = mm.datasets.load("sleepstudy")
    reml = mm.lmm("Reaction ~ Days + (Days | Subject)", data)
    ml = mm.lmm("Reaction ~ Days + (Days | Subject)", data, reml=False)
    assert reml.deviance == pytest.approx(ref["reml"]["deviance_ml"], abs=1e-4)
    assert reml.reml_criterion == pytest.approx(ref["reml"]["remlcrit"], abs=1e-6)
    assert reml.df_residual == ref["reml"]["df_residual"]
    assert ml.deviance == pytest.approx(ref["ml"]["deviance"], abs=1e-4)
    assert ml.df_residual == ref["ml"]["df_residual"]
    with pytest.raises(mm.ModelSpecError, match="no REML criterion"):
        _ = ml.reml_criterion
    glmer = mm.glmm(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)",
        mm.datasets.load("cbpp"),
        family="binomial",
    )
    assert glmer.deviance == pytest.approx(ref["glmer"]["deviance"], rel=1e-4)
    assert glmer.df_residual == ref["glmer"]["df_residual"]


def test_glmm_confint() -> None:
    """Wald intervals as lme4's confint(method = "Wald") at its converged optimum (the
    tight refit in cbpp_laplace.json: lme4's default PIRLS tolerance leaves its SEs up
    to 1.3 % off, tests/reference/README.md), the variance rows NaN; bootstrap
    percentile intervals for every row."""
    from scipy import stats

    tight = load_reference("cbpp_laplace")["tight"]
    fit = mm.glmm(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)",
        mm.datasets.load("cbpp"),
        family="binomial",
    )
    wald = fit.confint(method="wald")
    assert list(wald.index) == ["sd_(Intercept)|herd", *fit.fixed_names]
    assert wald.iloc[0].isna().all()
    z = stats.norm.ppf(0.975)
    for ours, name in zip(fit.fixed_names, tight["fixef"], strict=True):
        se = tight["se"][name]
        assert wald.loc[ours, "lower"] == pytest.approx(
            tight["fixef"][name] - z * se, abs=2e-3 * se
        )
        assert wald.loc[ours, "upper"] == pytest.approx(
            tight["fixef"][name] + z * se, abs=2e-3 * se
        )
    boot = fit.confint(method="boot", n_boot=8, seed=2)
    assert np.isfinite(boot.to_numpy()).all()
    assert (boot["lower"] <= boot["upper"]).all()
    with pytest.raises(ValueError, match="method must be 'profile', 'wald' or 'boot'"):
        fit.confint(method="Wald")


def test_refit_is_a_fresh_fit() -> None:
    """fit.refit(y) is the fit of the data with y as response. lme4 1.1-31's refit()
    reports otherwise (tests/reference/refit_reference.R): a REML criterion of 1759.32
    and SEs 0.3 % larger, while lme4's own deviance function at that refit's theta gives
    1750.948 and a fresh lmer() fit 1750.947. The refit object's criterion is not its
    likelihood, so the fresh fit is the reference, and ours agrees with it."""
    ref = load_reference("refit_reference")
    assert ref["refit"]["devfun_at_theta"] < ref["refit"]["remlcrit"] - 8.0  # lme4's mismatch
    data = mm.datasets.load("sleepstudy")
    fit = mm.lmm("Reaction ~ Days + (Days | Subject)", data)
    y = data["Reaction"].to_numpy() + 10 * np.sin(np.arange(1, 181))
    again = fit.refit(y)
    fresh = ref["fresh"]
    assert again.objective == pytest.approx(fresh["remlcrit"], abs=1e-6)
    np.testing.assert_allclose(again.std_errors.to_numpy(), fresh["se"], rtol=1e-5)
    np.testing.assert_allclose(again.theta, fresh["theta"], rtol=1e-4)


def test_update_refits_with_arguments_changed() -> None:
    data = mm.datasets.load("sleepstudy").assign(
        w=lambda d: 1 + d["Days"] / 10, off=lambda d: 2 * d["Days"]
    )
    fit = mm.lmm("Reaction ~ Days + (1 | Subject)", data, weights="w", offset="off")
    wider = fit.update(". ~ . + (0 + Days | Subject)")
    direct = mm.lmm(
        "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", data, weights="w", offset="off"
    )
    assert wider.loglik == pytest.approx(direct.loglik, abs=1e-9)
    ml = mm.lmm("Reaction ~ Days + (1 | Subject)", data, weights="w", offset="off", reml=False)
    assert fit.update(reml=False).loglik == pytest.approx(ml.loglik, abs=1e-9)
    plain = mm.lmm("Reaction ~ Days + (1 | Subject)", data)
    assert plain.update(data=data.iloc[:100]).nobs == 100
    with pytest.raises(mm.ModelSpecError, match="other data cannot take over"):
        fit.update(data=data.iloc[:100])


@pytest.mark.parametrize("kind", ["response", "pearson", "deviance", "working", "scaled"])
def test_lmm_residual_types_are_lme4s(kind: str) -> None:
    """residuals(m, type =, scaled = TRUE) of a weighted LMM with an offset (the
    REML fit w0 of anova_reference.R)."""
    ref = load_reference("anova_reference")["residuals"][kind]
    data = mm.datasets.load("sleepstudy").assign(
        w=lambda d: 1 + d["Days"] / 10, off=lambda d: 2 * d["Days"]
    )
    fit = mm.lmm("Reaction ~ Days + (1 | Subject)", data, weights="w", offset="off")
    got = fit.residuals(scaled=True) if kind == "scaled" else fit.residuals(type=kind)
    np.testing.assert_allclose(got.to_numpy()[:6], ref, rtol=1e-5)
