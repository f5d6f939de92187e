"""Crossed random effects with a residual correlation structure: subjects x items, each
subject's trials in time order with AR(1) (or exponential) residuals inside the subject.

nlme cannot cross random effects and lme4 has no residual structures. Two references:
the likelihood itself, ``V = sigma^2 (Z Lambda Lambda' Z' + D R D)`` formed densely on
small simulated cases, its REML or ML criterion profiled over beta and sigma, evaluated
at our estimates and minimized from scratch by Nelder-Mead; and glmmTMB on 2,400 rows
(``tests/reference/crossed_ar1_reference.R``, ``CROSSED_AR1_README.md``), which can
state the model only by moving the residual into an ``ar1()`` random effect per
observation with the residual variance fixed near zero."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

import mixedmodels as mm
from lme4_reference import REFERENCE, load_reference
from reference.crossed_ar1_data import simulate
from tiers import full_tier

FORMULA = "y ~ x + (1 + x | subject) + (1 | item)"


def ar1(lag: np.ndarray, rho: float) -> np.ndarray:
    return np.asarray(rho**lag)


def exponential(lag: np.ndarray, range_: float) -> np.ndarray:
    return np.asarray(np.exp(-lag / range_))


def formula_theta(fit: mm.StructuredLmmResult) -> np.ndarray:
    """The fit's theta in the order ``dense_criterion`` takes it (lme4 orders the terms by
    their number of levels)."""
    named = dict(zip(fit.theta_names, fit.theta, strict=True))
    order = ["subject.(Intercept)", "subject.x.(Intercept)", "subject.x", "item.(Intercept)"]
    return np.array([named[k] for k in order])


def dense_criterion(
    data: pd.DataFrame,
    theta: np.ndarray,
    correlation: Callable[[np.ndarray], np.ndarray],
    reml: bool,
) -> tuple[float, np.ndarray, float, np.ndarray]:
    """-2 log L (REML or ML, profiled over beta and sigma) of ``FORMULA`` with the
    residual correlation ``correlation(|t - s|)`` within subjects, from the n x n
    covariance; with beta, sigma and beta's standard errors. ``theta`` is the subjects'
    lower triangle (column-major) and then the items' relative SD."""
    n = len(data)
    X = np.column_stack([np.ones(n), data["x"]])
    y = data["y"].to_numpy()
    s = pd.factorize(data["subject"])[0]
    item = pd.factorize(data["item"])[0]
    n_s, n_i = s.max() + 1, item.max() + 1
    Z = np.zeros((n, 2 * n_s + n_i))
    Z[np.arange(n), 2 * s] = 1.0
    Z[np.arange(n), 2 * s + 1] = data["x"]
    Z[np.arange(n), 2 * n_s + item] = 1.0
    lam = np.array([[theta[0], 0.0], [theta[1], theta[2]]])
    G = np.zeros((Z.shape[1], Z.shape[1]))
    for j in range(n_s):
        G[2 * j : 2 * j + 2, 2 * j : 2 * j + 2] = lam @ lam.T
    G[2 * n_s :, 2 * n_s :] = theta[3] ** 2 * np.eye(n_i)
    t = data["trial"].to_numpy(dtype=float)
    R = np.where(s[:, None] == s[None, :], correlation(np.abs(t[:, None] - t[None, :])), 0.0)
    V = Z @ G @ Z.T + R
    Vi = np.linalg.inv(V)
    information = X.T @ Vi @ X
    beta = np.linalg.solve(information, X.T @ Vi @ y)
    r = y - X @ beta
    dof = n - X.shape[1] if reml else n
    sigma2 = float(r @ Vi @ r / dof)
    value = dof * (1.0 + np.log(2.0 * np.pi * sigma2)) + np.linalg.slogdet(V)[1]
    if reml:
        value += np.linalg.slogdet(information)[1]
    se = np.sqrt(np.diag(sigma2 * np.linalg.inv(information)))
    return float(value), beta, float(np.sqrt(sigma2)), se


CASES = {
    # more subjects than items: subjects are the first factor anyway
    "ar1_subjects_first": (8, 6, 2, mm.corAR1(form="~ trial | subject"), "Phi", ar1),
    # more items than subjects: subjects are put first, the items whitened as a sparse tail
    "ar1_items_more": (5, 14, 1, mm.corAR1(form="~ trial | subject"), "Phi", ar1),
    # a structure whitened group by group with dense factors
    "exponential": (6, 5, 2, mm.corExp(form="~ trial | subject"), "range", exponential),
}


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize(
    "case",
    # (the largest case, 14 items per subject, in the full tier)
    [pytest.param(c, marks=full_tier) if c == "ar1_items_more" else c for c in sorted(CASES)],
)
def test_crossed_fit_is_the_dense_likelihoods_optimum(case: str, reml: bool) -> None:
    n_s, n_i, reps, structure, name, corr = CASES[case]
    data = simulate(n_s, n_i, reps, phi=0.6, seed=1)
    fit = mm.lmm(FORMULA, data, correlation=structure, reml=reml)
    param = fit.correlation_params[name]

    # 1. our criterion, estimates and SEs are the dense likelihood's at our parameters
    value, beta, sigma, se = dense_criterion(
        data, formula_theta(fit), lambda lag: corr(lag, param), reml
    )
    assert fit.objective == pytest.approx(value, rel=1e-10)
    np.testing.assert_allclose(fit.beta, beta, rtol=1e-8)
    assert fit.sigma == pytest.approx(sigma, rel=1e-8)
    np.testing.assert_allclose(fit.std_errors.to_numpy(), se, rtol=1e-7)

    # 2. and no point of the dense likelihood is better: Nelder-Mead from a plain start
    def criterion(p: np.ndarray) -> float:
        if p[0] < 0 or p[2] < 0 or p[3] < 0:
            return np.inf
        value_at = np.tanh(p[4]) if name == "Phi" else np.exp(p[4])
        return dense_criterion(data, p[:4], lambda lag: corr(lag, value_at), reml)[0]

    point = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    for _ in range(3):
        point = optimize.minimize(
            criterion,
            point,
            method="Nelder-Mead",
            options={"xatol": 1e-9, "fatol": 1e-11, "maxiter": 20_000, "maxfev": 20_000},
        ).x
    assert fit.objective <= criterion(point) + 1e-7
    assert fit.objective == pytest.approx(criterion(point), abs=1e-6)


def test_crossed_fitted_values_are_on_the_datas_scale() -> None:
    data = simulate(8, 6, 2, phi=0.6, seed=2)
    fit = mm.lmm(FORMULA, data, correlation=mm.corAR1(form="~ trial | subject"))
    ranef = fit.ranef().set_index(["group", "term", "level"])["value"].sort_index()
    by_hand = (
        fit.beta[0]
        + fit.beta[1] * data["x"]
        + ranef.loc["subject", "(Intercept)"].reindex(data["subject"]).to_numpy()
        + ranef.loc["subject", "x"].reindex(data["subject"]).to_numpy() * data["x"]
        + ranef.loc["item", "(Intercept)"].reindex(data["item"]).to_numpy()
    )
    np.testing.assert_allclose(fit.fitted.to_numpy(), by_hand.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(fit.whitened.fitted.to_numpy(), fit.fitted.to_numpy(), rtol=1e-10)


def test_theta_keeps_lme4s_order_when_the_subjects_go_first() -> None:
    # 14 items and 5 subjects: lme4 puts the items first, the engine the subjects
    data = simulate(5, 14, 1, phi=0.6, seed=1)
    fit = mm.lmm(FORMULA, data, correlation=mm.corAR1(form="~ trial | subject"))
    assert fit.theta_names[0] == "item.(Intercept)"
    assert list(fit.varcorr["group"]) == ["item", "subject", "subject", "subject", "Residual"]


def test_groups_crossing_every_factor_are_named() -> None:
    data = simulate(5, 4, 2, phi=0.5, seed=3)
    data["block"] = np.arange(len(data)) % 3  # each block spans subjects and items
    with pytest.raises(mm.ModelSpecError, match=r"groups \(block\) lie in no grouping factor"):
        mm.lmm(FORMULA, data, correlation=mm.corAR1(form="~ trial | block"))


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_crossed_ar1_matches_glmmtmb(method: str) -> None:
    data = pd.read_csv(REFERENCE / "data" / "crossed_ar1.csv")
    ref = load_reference("crossed_ar1")[method]
    fit = mm.lmm(
        FORMULA, data, correlation=mm.corAR1(form="~ trial | subject"), reml=method == "REML"
    )
    # glmmTMB's residual SD is fixed at a small value, not 0, and its ML fit stops with
    # "false convergence": our logLik is 1.9e-6 below its REML one (same estimates to
    # 1e-10) and 3.2e-6 above its ML one
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-4)
    se = fit.std_errors.to_numpy()
    assert np.all(np.abs(fit.beta - ref["beta"]) <= 1e-3 * se)
    np.testing.assert_allclose(se, ref["se"], rtol=1e-3)
    assert fit.sigma == pytest.approx(ref["sigma"], rel=1e-3)
    assert fit.correlation_params["Phi"] == pytest.approx(ref["phi"], rel=1e-3)
    vc = fit.varcorr.set_index(["group", "term1"])
    subject = vc[vc["term2"].isna()].loc["subject", "sd_cor"].to_numpy()
    np.testing.assert_allclose(subject, ref["subject_sd"], rtol=1e-3)
    assert vc[vc["term2"].isna()].loc[("item", "(Intercept)"), "sd_cor"] == pytest.approx(
        ref["item_sd"], rel=1e-3
    )
