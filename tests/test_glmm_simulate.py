"""Simulation, refits and the parametric bootstrap of GLMMs, for every family.

The draws are checked against what the fitted model implies (means, the covariance the
random effects induce, zero proportions, per-row dispersions) with Monte Carlo margins of
several standard errors; refits against fits of the same data built from scratch.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from lme4_reference import load_data

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def cbpp_fit() -> mm.GlmmResult:
    return mm.glmm(CBPP, mm.datasets.load("cbpp"), family="binomial")


def test_seed_and_conditional_means(cbpp_fit: mm.GlmmResult) -> None:
    one = cbpp_fit.simulate(5, seed=4)
    assert one.shape == (cbpp_fit.nobs, 5)
    np.testing.assert_array_equal(one, cbpp_fit.simulate(5, seed=4))
    assert not np.array_equal(one, cbpp_fit.simulate(5, seed=5))
    # proportions of each row's trials
    size = mm.datasets.load("cbpp")["size"].to_numpy()
    np.testing.assert_allclose(one * size[:, None], np.round(one * size[:, None]), atol=1e-9)
    # at the conditional modes, the draws average to the fitted proportions
    draws = cbpp_fit.simulate(4000, seed=1, re="conditional")
    mu = cbpp_fit.fitted.to_numpy()
    se = np.sqrt(mu * (1 - mu) / size / 4000)
    assert np.all(np.abs(draws.mean(axis=1) - mu) < 5 * se)
    with pytest.raises(ValueError, match="re must be"):
        cbpp_fit.simulate(1, re="marginal")
    with pytest.raises(ValueError, match="positive whole number"):
        cbpp_fit.simulate(0)


def test_new_random_effects_have_the_fitted_covariance() -> None:
    """Gaussian identity GLMM with random slopes: two rows of one subject covary by
    z_i' Sigma z_j, each row varies by that plus sigma^2."""
    data = mm.datasets.load("sleepstudy")
    fit = mm.glmm("Reaction ~ Days + (Days | Subject)", data, family="gaussian")
    vc = fit.varcorr
    sd0, sd1 = vc.sd_cor.iloc[0], vc.sd_cor.iloc[1]
    rho = vc.sd_cor.iloc[2]
    sigma = np.array([[sd0**2, rho * sd0 * sd1], [rho * sd0 * sd1, sd1**2]])
    n = 20000
    draws = fit.simulate(n, seed=2)
    days = data["Days"].to_numpy()
    i, j = 0, 9  # subject 308, days 0 and 9
    zi, zj = np.array([1.0, days[i]]), np.array([1.0, days[j]])
    cov = np.cov(draws[i], draws[j])
    want_cov = zi @ sigma @ zj
    var_i = zi @ sigma @ zi + fit.dispersion**2
    var_j = zj @ sigma @ zj + fit.dispersion**2
    # sampling SDs of a normal sample's covariance and variance: 5 of them
    assert abs(cov[0, 1] - want_cov) < 5 * np.sqrt((var_i * var_j + want_cov**2) / n)
    assert abs(cov[1, 1] - var_j) < 5 * var_j * np.sqrt(2.0 / n)
    want_var = var_j
    # rows of different subjects are independent
    assert abs(np.corrcoef(draws[0], draws[10])[0, 1]) < 5 / np.sqrt(n)
    mean = fit.beta[0] + fit.beta[1] * days[j]
    assert draws[j].mean() == pytest.approx(mean, abs=5 * np.sqrt(want_var / n))


def test_zero_inflated_draws_have_the_fitted_zeros() -> None:
    data = load_data("Salamanders")
    fit = mm.glmm("count ~ mined + (1 | site)", data, family="poisson", zi="~ mined")
    draws = fit.simulate(3000, seed=3, re="conditional")
    pi = fit.predict(type="zprob").to_numpy()
    mu = fit.predict(type="conditional").to_numpy()
    p0 = pi + (1 - pi) * np.exp(-mu)
    got = (draws == 0).mean()
    assert got == pytest.approx(p0.mean(), abs=4 * np.sqrt(np.mean(p0 * (1 - p0)) / draws.size))
    np.testing.assert_allclose(draws.mean(axis=1).mean(), fit.fitted.mean(), rtol=0.02)


def test_dispersion_model_draws_vary_row_by_row() -> None:
    data = mm.datasets.load("sleepstudy")
    fit = mm.glmm("Reaction ~ Days + (1 | Subject)", data, family="gaussian", dispersion="~ Days")
    draws = fit.simulate(5000, seed=6, re="conditional")
    resid = draws - fit.fitted.to_numpy()[:, None]
    sigma = np.asarray(fit.dispersion)
    np.testing.assert_allclose(resid.std(axis=1), sigma, rtol=0.06)


@pytest.mark.parametrize(
    ("family", "link", "transform"),
    [("Gamma", "log", None), ("nbinom2", "log", "round"), ("beta", "logit", "beta")],
)
def test_refit_is_the_fit_of_that_response(family: str, link: str, transform: str | None) -> None:
    rng = np.random.default_rng(8)
    g = np.repeat(np.arange(15), 12)
    x = rng.normal(size=g.size)
    eta = 0.4 + 0.5 * x + rng.normal(0, 0.4, 15)[g]
    if transform == "round":
        y = rng.negative_binomial(3.0, 3.0 / (3.0 + np.exp(eta))).astype(float)
    elif transform == "beta":
        mu = 1 / (1 + np.exp(-eta))
        y = rng.beta(mu * 15, (1 - mu) * 15)
    else:
        y = rng.gamma(4.0, np.exp(eta) / 4.0)
    data = pd.DataFrame({"y": y, "x": x, "g": g})
    fit = mm.glmm("y ~ x + (1 | g)", data, family=family, link=link)
    assert fit.refit(data["y"]).loglik == pytest.approx(fit.loglik, abs=1e-8)
    new = fit.simulate(1, seed=11)[:, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = fit.refit(new)
        scratch = mm.glmm("y ~ x + (1 | g)", data.assign(y=new), family=family, link=link)
    assert again.loglik == pytest.approx(scratch.loglik, abs=1e-8)
    np.testing.assert_allclose(again.beta, scratch.beta, rtol=1e-7)
    with pytest.raises(mm.DataError, match="needs 180 values"):
        fit.refit(new[:-1])
    if family != "nbinom2":
        with pytest.raises(mm.DataError, match="'y'"):
            fit.refit(np.where(np.arange(new.size) == 3, -1.0, new))


def test_bootstrap_of_a_glmm(cbpp_fit: mm.GlmmResult) -> None:
    boot = mm.bootstrap(cbpp_fit, n=12, seed=5, progress=False)
    table = boot.replicates
    assert list(table.columns[:4]) == list(cbpp_fit.fixed_names)
    assert "sd_(Intercept)|herd" in table.columns and table.shape == (12, 6)
    assert np.all(np.isfinite(table.to_numpy()))
    again = mm.bootstrap(cbpp_fit, n=12, seed=5, progress=False)
    pd.testing.assert_frame_equal(table, again.replicates)
    np.testing.assert_allclose(boot.estimate.iloc[:4], cbpp_fit.beta)
    # the replicates scatter about the estimates
    spread = table.std().iloc[:4].to_numpy()
    assert np.all(np.abs(table.mean().iloc[:4] - cbpp_fit.beta) < 4 * spread)


def test_bootstrap_carries_dispersion_and_zero_inflation() -> None:
    data = load_data("Salamanders")
    fit = mm.glmm("count ~ mined + (1 | site)", data, family="nbinom2", zi="~ 1")
    boot = mm.bootstrap(fit, n=3, seed=1, progress=False)
    assert list(boot.replicates.columns[-2:]) == ["dispersion", "zi~(Intercept)"]
    assert boot.estimate["dispersion"] == pytest.approx(fit.dispersion)
