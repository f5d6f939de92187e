"""Inference for LMMs with residual structures: Satterthwaite's df against the same
definition computed from the dense n x n covariance, type III F tests, likelihood-ratio
tests, prediction, simulation (its residuals have the fitted correlation), refits and
the parametric bootstrap."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from lme4_reference import load_data
from test_lmm_crossed_structures import FORMULA, ar1, dense_criterion, formula_theta, simulate
from tiers import full_tier


def dense_deviance(data: pd.DataFrame, varpar: np.ndarray, reml: bool) -> float:
    """-2 log L (REML or ML) at ``(theta (4), Phi, sigma)``, not profiled over sigma."""
    theta, phi, sigma = varpar[:4], float(varpar[4]), float(varpar[5])
    value, _, sigma_hat, _ = dense_criterion(data, theta, lambda lag: ar1(lag, phi), reml)
    # dense_criterion is profiled: value = dof (1 + log(2 pi s^2)) + logdets; undo that
    n, p = len(data), 2
    dof = n - p if reml else n
    logdets = value - dof * (1.0 + np.log(2.0 * np.pi * sigma_hat**2))
    rss = dof * sigma_hat**2  # r' V0^{-1} r
    return float(logdets + dof * np.log(2.0 * np.pi * sigma**2) + rss / sigma**2)


def dense_satterthwaite(
    data: pd.DataFrame, varpar: np.ndarray, reml: bool, free: list[int]
) -> np.ndarray:
    """Satterthwaite's df of each fixed effect by the definition, every piece from the
    dense covariance: ``2 v^2 / (g' A g)``, ``A = 2 H^{-1}``, by central differences in
    the parameters ``free`` (the others taken as known)."""

    def information_inverse(x: np.ndarray) -> np.ndarray:
        theta, phi, sigma = x[:4], float(x[4]), float(x[5])
        _, _, sigma_hat, se = dense_criterion(data, theta, lambda lag: ar1(lag, phi), reml)
        # se^2 = sigma_hat^2 * diag((X'V0^{-1}X)^{-1}); only the diagonal is needed here
        return np.asarray(se**2 / sigma_hat**2 * sigma**2)

    x = np.asarray(varpar, dtype=np.float64)
    k = x.size
    h = 1e-4 * np.maximum(np.abs(x), 1.0)
    H = np.zeros((k, k))
    f0 = dense_deviance(data, x, reml)
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = h[i]
        H[i, i] = (
            dense_deviance(data, x + ei, reml) - 2 * f0 + dense_deviance(data, x - ei, reml)
        ) / h[i] ** 2
        for j in range(i):
            ej = np.zeros(k)
            ej[j] = h[j]
            H[i, j] = H[j, i] = (
                dense_deviance(data, x + ei + ej, reml)
                - dense_deviance(data, x + ei - ej, reml)
                - dense_deviance(data, x - ei + ej, reml)
                + dense_deviance(data, x - ei - ej, reml)
            ) / (4 * h[i] * h[j])
    A = 2.0 * np.linalg.inv(H[np.ix_(free, free)])
    v = information_inverse(x)
    G = np.empty((k, v.size))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h[i]
        G[i] = (information_inverse(x + e) - information_inverse(x - e)) / (2 * h[i])
    G = G[free]
    return np.array([2 * v[j] ** 2 / (G[:, j] @ A @ G[:, j]) for j in range(v.size)])


@pytest.fixture(scope="module")
def crossed() -> tuple[pd.DataFrame, mm.StructuredLmmResult]:
    data = simulate(8, 6, 2, phi=0.6, seed=1)
    return data, mm.lmm(FORMULA, data, correlation=mm.corAR1(form="~ trial | subject"))


def test_satterthwaite_df_match_the_dense_definition(
    crossed: tuple[pd.DataFrame, mm.StructuredLmmResult],
) -> None:
    data, fit = crossed
    varpar = np.concatenate([formula_theta(fit), [fit.correlation_params["Phi"], fit.sigma]])
    expected = dense_satterthwaite(data, varpar, reml=True, free=[0, 1, 2, 3, 4, 5])
    table = fit.coef_table()
    np.testing.assert_allclose(table["df"].to_numpy(), expected, rtol=2e-3)
    # Phi counts as estimated: with it known (the LMM of the whitened rows alone) the
    # definition gives other df, which the whitened LMM's Satterthwaite df are
    known = dense_satterthwaite(data, varpar, reml=True, free=[0, 1, 2, 3, 5])
    np.testing.assert_allclose(fit.whitened.coef_table()["df"].to_numpy(), known, rtol=2e-3)
    assert abs(known[1] / expected[1] - 1.0) > 5e-3
    # the interval is estimate +- t quantile x SE
    q = table["upper"] - table["estimate"]
    assert np.all(q > 1.96 * table["std_error"])


@pytest.fixture(scope="module")
def orthodont() -> tuple[pd.DataFrame, mm.StructuredLmmResult]:
    data = load_data("Orthodont")
    fit = mm.lmm(
        "distance ~ age * Sex + (1 | Subject)", data, correlation=mm.corAR1(form="~ 1 | Subject")
    )
    return data, fit


def test_type3_tests_of_one_df_terms_are_the_t_tests(
    orthodont: tuple[pd.DataFrame, mm.StructuredLmmResult],
) -> None:
    _, fit = orthodont
    table = fit.anova()
    coefs = fit.coef_table()
    assert list(table.index) == ["age", "Sex", "age:Sex"]
    assert table.loc["age:Sex", "F"] == pytest.approx(
        coefs.loc["age:Sex[T.Female]", "statistic"] ** 2, rel=1e-8
    )
    assert table.loc["age:Sex", "dendf"] == pytest.approx(
        coefs.loc["age:Sex[T.Female]", "df"], rel=1e-8
    )
    numdf, dendf, F, p = fit.test(np.eye(4)[[2, 3]])
    assert numdf == 2 and np.isfinite(dendf) and F > 0 and 0 <= p <= 1
    with pytest.raises(mm.ModelSpecError, match="must have 4 columns"):
        fit.test(np.ones((1, 3)))
    with pytest.raises(ValueError, match="ddf must be one of"):
        fit.coef_table(ddf="containment")


def test_likelihood_ratio_test_against_the_plain_lmm(
    orthodont: tuple[pd.DataFrame, mm.StructuredLmmResult],
) -> None:
    data, fit = orthodont
    plain = mm.lmm("distance ~ age * Sex + (1 | Subject)", data)
    table = mm.anova(plain, fit, refit=False)
    assert table["npar"].tolist() == [plain.n_params, plain.n_params + 1]
    assert table["chisq"].iloc[1] == pytest.approx(2 * (fit.loglik - plain.loglik), abs=1e-8)
    assert table["df"].iloc[1] == 1
    # by default REML fits are refitted by ML, the structured one with its structure
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_ml = mm.anova(plain, fit)
        ml = mm.lmm(
            "distance ~ age * Sex + (1 | Subject)",
            data,
            reml=False,
            correlation=mm.corAR1(form="~ 1 | Subject"),
        )
    assert by_ml["loglik"].iloc[1] == pytest.approx(ml.loglik, abs=1e-8)


def test_predict_and_refit(orthodont: tuple[pd.DataFrame, mm.StructuredLmmResult]) -> None:
    data, fit = orthodont
    np.testing.assert_allclose(fit.predict().to_numpy(), fit.fitted.to_numpy())
    np.testing.assert_allclose(fit.predict(data).to_numpy(), fit.fitted.to_numpy(), rtol=1e-10)
    X = np.column_stack(
        [
            np.ones(len(data)),
            data["age"],
            data["Sex"] == "Female",
            data["age"] * (data["Sex"] == "Female"),
        ]
    )
    np.testing.assert_allclose(fit.predict(data, re=False).to_numpy(), X @ fit.beta, rtol=1e-10)
    again = fit.refit(data["distance"].to_numpy())
    assert again.loglik == pytest.approx(fit.loglik, abs=1e-6)
    assert again.correlation_params["Phi"] == pytest.approx(fit.correlation_params["Phi"], abs=1e-4)
    with pytest.raises(mm.DataError):
        fit.refit(np.ones(3))


def test_simulated_residuals_have_the_fitted_correlation(
    crossed: tuple[pd.DataFrame, mm.StructuredLmmResult],
) -> None:
    data, fit = crossed
    sims = fit.simulate(2000, seed=5, re="conditional")
    np.testing.assert_array_equal(sims, fit.simulate(2000, seed=5, re="conditional"))
    resid = sims - fit.fitted.to_numpy()[:, None]
    # the rows are in trial order within subjects: neighbours are one trial apart
    same = data["subject"].to_numpy()[1:] == data["subject"].to_numpy()[:-1]
    lag1 = np.mean(resid[1:][same] * resid[:-1][same]) / fit.sigma**2
    assert lag1 == pytest.approx(fit.correlation_params["Phi"], abs=0.015)
    assert np.mean(resid**2) / fit.sigma**2 == pytest.approx(1.0, abs=0.015)
    # new random effects: each row's variance is that of Z b + e
    new = fit.simulate(4000, seed=6)
    vc = fit.varcorr
    v_int, v_x, c = vc[vc["group"] == "subject"]["variance"]  # (Intercept), x, their cov
    item = vc[vc["group"] == "item"]["variance"].iloc[0]
    x = data["x"].to_numpy()
    expected = v_int + 2 * c * x + v_x * x**2 + item + fit.sigma**2
    assert np.mean(new.var(axis=1)) == pytest.approx(np.mean(expected), rel=0.03)


def test_bootstrap_of_a_structured_fit(
    orthodont: tuple[pd.DataFrame, mm.StructuredLmmResult],
) -> None:
    _, fit = orthodont
    boot = mm.bootstrap(fit, n=4, seed=3, progress=False)
    assert "Phi" in boot.replicates.columns
    assert boot.estimate["Phi"] == pytest.approx(fit.correlation_params["Phi"])
    assert np.isfinite(boot.replicates.to_numpy()).all()
    # replicates differ from each other and from the estimate
    assert boot.replicates["Phi"].nunique() == 4
    again = mm.bootstrap(fit, n=4, seed=3, progress=False)
    pd.testing.assert_frame_equal(boot.replicates, again.replicates)
    intervals = fit.confint(method="boot", n_boot=4, seed=3)
    assert intervals.loc["Phi", "lower"] <= intervals.loc["Phi", "upper"]
    wald = fit.confint()
    assert list(wald.index) == list(fit.fixed_names)


def test_kenward_roger_of_a_random_intercept_is_sas_cs() -> None:
    """A random intercept with independent residuals is SAS's type=cs in SAS's own
    parameters (the covariance, i.e. the intercept's variance, and the residual
    variance). A variance function with one stratum has no parameter, so the structured
    fit is that model, and its Kenward-Roger SE and df (observed information, from the
    dense covariance) are SAS's (tests/reference/mmrm_sas.json)."""
    import json

    from lme4_reference import REFERENCE

    sas = json.loads((REFERENCE / "mmrm_sas.json").read_text())["kenward_roger_armcd"]["cs"]
    fev = mm.datasets.load("fev_data").dropna(subset=["FEV1"]).reset_index(drop=True)
    fev["stratum"] = "all"
    fit = mm.lmm("FEV1 ~ ARMCD + (1 | USUBJID)", fev, variance=mm.varIdent(form="~ 1 | stratum"))
    assert fit.variance_params == {}
    row = fit.coef_table("kenward-roger").loc["ARMCD[T.TRT]"]
    assert row["std_error"] == pytest.approx(sas["kenward-roger"]["std_error"], rel=1e-5)
    assert row["df"] == pytest.approx(sas["kenward-roger"]["df"], rel=1e-5)


def test_kenward_roger_with_a_structure(
    orthodont: tuple[pd.DataFrame, mm.StructuredLmmResult],
) -> None:
    _, fit = orthodont
    kr = fit.coef_table("kenward-roger")
    sat = fit.coef_table()
    # the adjusted SEs are at least the unadjusted ones here, the df near Satterthwaite's
    assert np.all(kr["std_error"] >= sat["std_error"] * (1 - 1e-6))
    np.testing.assert_allclose(kr["df"], sat["df"], rtol=0.1)
    ml = mm.lmm(
        "distance ~ age * Sex + (1 | Subject)",
        load_data("Orthodont"),
        reml=False,
        correlation=mm.corAR1(form="~ 1 | Subject"),
    )
    with pytest.raises(mm.ModelSpecError, match="defined for REML"):
        ml.coef_table("kenward-roger")


def test_a_component_too_large_for_dense_kenward_roger_is_refused() -> None:
    from mixedmodels.inference.dense_covariance import MAX_COMPONENT_ROWS, components

    n = MAX_COMPONENT_ROWS + 1
    subject, item = np.arange(n) % 50, np.arange(n) % 7  # crossed: one component
    with pytest.raises(mm.ModelSpecError, match=r"3001 rows .* use ddf='satterthwaite'"):
        components(n, [subject, item], "Kenward-Roger")
    parts = components(100, [np.arange(100) // 4], "Kenward-Roger")
    assert [r.shape for r in parts.rows] == [(25, 4)]


def test_profile_interval_of_phi_is_where_the_dense_profile_rises_by_the_quantile(
    crossed: tuple[pd.DataFrame, mm.StructuredLmmResult],
) -> None:
    from scipy import optimize, stats

    from mixedmodels.lmm.structured_profile import structure_profile_intervals

    data, fit = crossed
    # the structures' part of confint(method="profile"), without the fixed effects' refits
    table = structure_profile_intervals(
        fit._design, fit._params, fit.theta, fit.objective, ["Phi"], 0.95
    )
    lower, upper = table.loc["Phi", "lower"], table.loc["Phi", "upper"]
    assert lower < fit.correlation_params["Phi"] < upper
    cutoff = fit.objective + stats.chi2.ppf(0.95, 1)
    for phi in (lower, upper):
        # the dense REML criterion at this Phi, minimized over theta from our optimum
        def criterion(theta: np.ndarray, phi: float = phi) -> float:
            if theta[0] < 0 or theta[2] < 0 or theta[3] < 0:
                return np.inf
            return dense_criterion(data, theta, lambda lag: ar1(lag, phi), True)[0]

        best = optimize.minimize(
            criterion,
            formula_theta(fit),
            method="Nelder-Mead",
            options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 10_000},
        )
        assert best.fun == pytest.approx(cutoff, abs=1e-4)
    with pytest.raises(ValueError, match="'wald', 'boot' or 'profile'"):
        fit.confint(method="likelihood")


def test_profiles_know_which_structures_map_coordinate_by_coordinate() -> None:
    from mixedmodels.core.optinfo import OptimizerSettings
    from mixedmodels.lmm.structured_design import StructuredDesign
    from mixedmodels.lmm.structured_profile import _coordinatewise

    data = load_data("Orthodont")

    def design(correlation: object, variance: object) -> StructuredDesign:
        return StructuredDesign.of(
            "distance ~ age + (1 | Subject)",
            data,
            correlation,  # type: ignore[arg-type]
            variance,  # type: ignore[arg-type]
            True,
            None,
            OptimizerSettings(),
        )

    ar1 = design(mm.corAR1(form="~ 1 | Subject"), mm.varIdent(form="~ 1 | Sex"))
    assert _coordinatewise(ar1, ar1.whitener.start() + 0.3)
    symm = design(mm.corSymm(form="~ 1 | Subject"), None)
    assert not _coordinatewise(symm, symm.whitener.start() + 0.3)


def test_fixed_effect_profiles_are_lme4s_when_the_structure_has_no_parameter() -> None:
    """With a parameter-free variance function the structured fit is the plain LMM, so
    its profile intervals of the fixed effects are the plain LMM's (lme4's method)."""
    data = load_data("Orthodont")
    data["stratum"] = "all"
    formula = "distance ~ age + Sex + (1 | Subject)"
    structured = mm.lmm(formula, data, variance=mm.varIdent(form="~ 1 | stratum"))
    plain = mm.lmm(formula, data)
    ours = structured.confint(method="profile")
    theirs = plain.confint(method="profile").loc[list(plain.fixed_names)]
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-5)


@full_tier
def test_profile_intervals_of_a_structured_fit(
    orthodont: tuple[pd.DataFrame, mm.StructuredLmmResult],
) -> None:
    _, fit = orthodont
    table = fit.confint(method="profile")
    assert list(table.index) == ["Phi", *fit.fixed_names]
    wald = fit.confint()
    for name in fit.fixed_names:
        lower, upper = table.loc[name]
        assert lower < fit.fixef[name] < upper
        ratio = (upper - lower) / (wald.loc[name, "upper"] - wald.loc[name, "lower"])
        assert 0.8 < ratio < 1.25  # near the Wald interval's width, not equal to it


def test_structured_update_and_re_form_are_the_lmms() -> None:
    """update keeps the structures and is the direct fit of the new formula; predict
    takes re_form as an LMM's does."""
    import warnings

    import mixedmodels as mm

    data = mm.datasets.load("Orthodont")
    ar1 = mm.corAR1(form="~ 1 | Subject")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = mm.lmm("distance ~ age + (1 | Subject)", data, correlation=ar1)
        updated = fit.update(". ~ . + Sex")
        direct = mm.lmm("distance ~ age + Sex + (1 | Subject)", data, correlation=ar1)
    assert updated.loglik == direct.loglik
    assert updated.correlation_params == direct.correlation_params
    assert fit.update(reml=False).loglik == pytest.approx(fit.refit_ml().loglik, rel=1e-10)
    new = data.head(5)
    assert fit.predict(new, re_form="NA").equals(fit.predict(new, re=False))
    assert fit.predict(new, re_form="~ (1 | Subject)").equals(fit.predict(new))
