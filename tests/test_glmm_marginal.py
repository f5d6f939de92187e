"""Population-averaged GLMM means (``predict_marginal``): against direct numerical
integration over the random effects (one and two dimensions, scipy's adaptive quadrature) to
1e-6, against a large simulation within its Monte Carlo error, and the closed forms of the
log and probit links."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats

import mixedmodels as mm
from lme4_reference import load_data
from mixedmodels.glmm.marginal import expected_inverse_link

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def cbpp() -> pd.DataFrame:
    return mm.datasets.load("cbpp")


@pytest.fixture(scope="module")
def slopes() -> mm.GlmmResult:
    return mm.glmm(
        "use ~ age + urban + (urban | district)", load_data("Contraception"), family="binomial"
    )


def _district_covariance(fit: mm.GlmmResult) -> np.ndarray:
    """The (intercept, urban) covariance, read from the variance-component table."""
    sd_cor = fit.varcorr["sd_cor"].to_numpy()
    sd, corr = sd_cor[:2], float(sd_cor[2])
    return np.array([[sd[0] ** 2, corr * sd[0] * sd[1]], [corr * sd[0] * sd[1], sd[1] ** 2]])


def _normal_average(inverse, eta: float, sd: float) -> float:  # type: ignore[no-untyped-def]
    def f(u: float) -> float:
        return float(inverse(eta + sd * u) * stats.norm.pdf(u))

    return float(
        integrate.quad(f, -12, 12, points=[-eta / sd], epsabs=0, epsrel=1e-12, limit=500)[0]
    )


def test_one_scalar_term_against_quadrature(cbpp: pd.DataFrame) -> None:
    fit = mm.glmm(CBPP, cbpp, family="binomial")
    new = pd.DataFrame({"period": ["1", "2", "3", "4"]})
    marginal = fit.predict_marginal(new).to_numpy()
    eta = fit.predict(new.assign(herd="1"), re=False, type="link").to_numpy()
    sd = float(fit.theta[0])
    expected = [_normal_average(special.expit, e, sd) for e in eta]
    np.testing.assert_allclose(marginal, expected, rtol=1e-6)
    # the population is nearer 0.5 than the typical herd
    assert np.all(marginal > special.expit(eta))


def test_a_vector_term_against_two_dimensional_quadrature(slopes: mm.GlmmResult) -> None:
    """``(urban | district)``: the mean over (b0, b1) ~ N(0, Sigma), integrated in two
    dimensions, equals the one-dimensional integral over z'b."""
    new = pd.DataFrame({"age": [-5.0, 10.0], "urban": ["N", "Y"]})
    marginal = slopes.predict_marginal(new).to_numpy()
    eta = slopes.predict(new.assign(district="1"), re=False, type="link").to_numpy()
    cov = _district_covariance(slopes)
    chol = np.linalg.cholesky(cov)
    for i, z in enumerate([np.array([1.0, 0.0]), np.array([1.0, 1.0])]):
        # z'b = z' chol u, written out: the integrand in plain floats (scipy.stats' pdf on
        # scalars made the quadrature's 10^5 calls take seconds)
        a1, a2 = float(z @ chol[:, 0]), float(z @ chol[:, 1])

        def f(u2: float, u1: float, i: int = i, a1: float = a1, a2: float = a2) -> float:
            density = math.exp(-0.5 * (u1 * u1 + u2 * u2)) / (2.0 * math.pi)
            return density / (1.0 + math.exp(-(eta[i] + a1 * u1 + a2 * u2)))

        value = integrate.dblquad(f, -9, 9, -9, 9, epsabs=1e-12, epsrel=1e-10)[0]
        assert marginal[i] == pytest.approx(value, rel=1e-6)


def test_against_a_large_simulation(slopes: mm.GlmmResult) -> None:
    new = pd.DataFrame({"age": [0.0, -8.0, 12.0], "urban": ["Y", "N", "N"]})
    marginal = slopes.predict_marginal(new).to_numpy()
    eta = slopes.predict(new.assign(district="1"), re=False, type="link").to_numpy()
    cov = _district_covariance(slopes)
    rng = np.random.default_rng(20261203)
    b = rng.multivariate_normal(np.zeros(2), cov, size=400_000)
    z = np.array([[1.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    draws = special.expit(eta[:, None] + z @ b.T)
    mean, se = draws.mean(axis=1), draws.std(axis=1) / np.sqrt(draws.shape[1])
    assert np.all(np.abs(marginal - mean) < 4.0 * se)


def test_closed_forms() -> None:
    eta = np.array([-2.0, 0.3, 1.7])
    variance = np.array([0.5, 2.0, 4.0])
    log = expected_inverse_link("log", eta, variance)
    probit = expected_inverse_link("probit", eta, variance)
    for i in range(3):
        sd = float(np.sqrt(variance[i]))
        assert log[i] == pytest.approx(_normal_average(np.exp, eta[i], sd), rel=1e-9)
        assert probit[i] == pytest.approx(_normal_average(special.ndtr, eta[i], sd), rel=1e-9)


def test_cloglog_and_large_variances_against_quadrature() -> None:
    def cloglog(x: float) -> float:
        return float(-np.expm1(-np.exp(min(x, 700.0))))

    for eta in (-6.0, 0.0, 2.5):
        for sd in (0.2, 3.0, 15.0):
            ours = expected_inverse_link("cloglog", np.array([eta]), np.array([sd * sd]))[0]
            assert ours == pytest.approx(_normal_average(cloglog, eta, sd), rel=1e-9)
            ours = expected_inverse_link("logit", np.array([eta]), np.array([sd * sd]))[0]
            assert ours == pytest.approx(_normal_average(special.expit, eta, sd), rel=1e-9)


def test_poisson_is_the_lognormal_mean(cbpp: pd.DataFrame) -> None:
    fit = mm.glmm("incidence ~ period + offset(log(size)) + (1 | herd)", cbpp, family="poisson")
    eta = fit.predict(re=False, type="link").to_numpy()
    expected = np.exp(eta + 0.5 * float(fit.theta[0]) ** 2)
    np.testing.assert_allclose(fit.predict_marginal().to_numpy(), expected, rtol=1e-12)


def test_a_link_without_a_marginal_mean_is_refused() -> None:
    with pytest.raises(mm.ModelSpecError, match="does not exist"):
        expected_inverse_link("inverse", np.array([1.0]), np.array([1.0]))
