"""Families and links as objects: each checked against plain arithmetic and scipy.stats.

Links: the inverse undoes the link, and the first and second derivatives of the inverse
match central differences. Families: the log-density with its constants equals
scipy.stats' at several dispersions, the deviance residuals are twice the saturated
log-likelihood less the fitted one (times the dispersion), the observed information is
minus the second derivative of the log-density in eta, and the response checks name the
column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import mixedmodels as mm
from mixedmodels.glmm.family import FAMILIES, family
from mixedmodels.glmm.links import LINKS

# eta values inside every link's domain (the inverse and 1/mu^2 links need eta > 0)
ETA = np.array([0.15, 0.4, 0.9, 1.7])


@pytest.mark.parametrize("name", sorted(LINKS))
def test_link_derivatives_match_differences(name: str) -> None:
    link = LINKS[name]()
    eta = ETA if name not in ("logit", "probit", "cloglog") else np.array([-1.3, -0.2, 0.4, 1.1])
    mu = link.inverse(eta)
    np.testing.assert_allclose(link.link(mu), eta, rtol=1e-12)
    h = 1e-5
    first = (link.inverse(eta + h) - link.inverse(eta - h)) / (2 * h)
    np.testing.assert_allclose(link.mu_eta(eta, mu), first, rtol=1e-7)
    d_plus = link.mu_eta(eta + h, link.inverse(eta + h))
    d_minus = link.mu_eta(eta - h, link.inverse(eta - h))
    np.testing.assert_allclose(link.mu_eta2(eta, mu), (d_plus - d_minus) / (2 * h), atol=1e-8)


def _scipy_logpdf(
    name: str, y: np.ndarray, mu: np.ndarray, w: np.ndarray, phi: float
) -> np.ndarray:
    if name == "gaussian":
        return np.asarray(stats.norm.logpdf(y, mu, np.sqrt(phi / w)))
    if name == "Gamma":
        shape = w / phi
        return np.asarray(stats.gamma.logpdf(y, shape, scale=mu / shape))
    if name == "inverse.gaussian":
        lam = w / phi  # scipy's invgauss(mu / lam, scale = lam) has mean mu, shape lam
        return np.asarray(stats.invgauss.logpdf(y, mu / lam, scale=lam))
    if name == "poisson":
        return np.asarray(w * stats.poisson.logpmf(y, mu))
    if name == "negative.binomial":  # size phi, success probability phi / (phi + mu)
        return np.asarray(w * stats.nbinom.logpmf(y, phi, phi / (phi + mu)))
    if name == "nbinom1":  # size mu / phi, success probability 1 / (1 + phi)
        return np.asarray(w * stats.nbinom.logpmf(y, mu / phi, 1.0 / (1.0 + phi)))
    if name == "beta":  # shapes mu phi and (1 - mu) phi
        return np.asarray(w * stats.beta.logpdf(y, mu * phi, (1.0 - mu) * phi))
    n = np.round(w)
    return np.asarray(stats.binom.logpmf(np.round(w * y), n, mu))


def _data(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if name == "binomial":
        w = np.array([1.0, 5.0, 8.0, 3.0])
        return np.array([1.0, 0.4, 0.25, 0.0]), np.array([0.3, 0.5, 0.2, 0.6]), w
    if name in ("poisson", "negative.binomial", "nbinom1"):
        return np.array([0.0, 3.0, 7.0, 1.0]), np.array([0.5, 2.5, 6.0, 1.2]), np.ones(4)
    if name == "beta":
        return np.array([0.12, 0.5, 0.93, 0.3]), np.array([0.2, 0.45, 0.8, 0.35]), np.ones(4)
    return np.array([0.7, 1.9, 3.2, 0.4]), np.array([1.0, 1.5, 2.6, 0.5]), np.array([1, 2, 1, 3.0])


# binomial and Poisson have phi = 1; the others at several dispersions
DENSITY_CASES = [
    (name, phi)
    for name in sorted(FAMILIES)
    for phi in ((1.0, 0.3, 2.5) if FAMILIES[name].has_dispersion else (1.0,))
]


@pytest.mark.parametrize(("name", "phi"), DENSITY_CASES)
def test_log_density_and_deviance(name: str, phi: float) -> None:
    fam = family(name)
    y, mu, w = _data(name)
    got = fam.log_likelihood(y, mu, w, phi)
    np.testing.assert_allclose(got, _scipy_logpdf(name, y, mu, w, phi), rtol=1e-10)
    # the unit deviance: twice (saturated log-likelihood - fitted)
    at_y = fam.log_likelihood(y, np.clip(y, 1e-300, None), w, phi)
    if name == "binomial":
        at_y = fam.log_likelihood(y, y, w, phi)
    # (times phi where the dispersion scales the weights; the negative binomial's is in V)
    at = fam.with_dispersion(phi)
    scale = w / at.weights_at(w, phi)
    np.testing.assert_allclose(
        at.deviance_residuals(y, mu, w), 2.0 * scale * (at_y - got), rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_observed_information_is_the_second_derivative(name: str) -> None:
    fam = family(name)
    y, _, w = _data(name)
    phi = 0.7 if fam.has_dispersion else 1.0
    for link_name in fam.links:
        f = family(name, link_name)
        proportions = name in ("binomial", "beta")
        eta = f.linkfun(np.array([0.35, 0.45, 0.6, 0.3]) if proportions else y + 0.3)
        mu = f.linkinv(eta)
        h = 1e-4

        def loglik(e: np.ndarray, f=f) -> np.ndarray:  # type: ignore[no-untyped-def]
            return f.log_likelihood(y, f.linkinv(e), w, phi)

        second = (loglik(eta + h) - 2 * loglik(eta) + loglik(eta - h)) / h**2
        at = f.with_dispersion(phi)
        np.testing.assert_allclose(
            at.observed_weights(y, eta, mu, at.weights_at(w, phi)), -second, rtol=1e-5, atol=1e-6
        )


def test_canonical_scale_gives_the_fisher_weight() -> None:
    for name in FAMILIES:
        if not FAMILIES[name].canonical_link:
            continue  # the negative binomial's canonical link is not among R's
        fam = family(name, FAMILIES[name].canonical_link)
        y, _, w = _data(name)
        eta = fam.linkfun(np.array([0.35, 0.45, 0.6, 0.3]) if name == "binomial" else y + 0.3)
        mu = fam.linkinv(eta)
        d = fam.mu_eta(eta, mu)
        np.testing.assert_allclose(d, fam.canonical_scale * fam.variance(mu), rtol=1e-12)


def test_lookup_names_aliases_and_links() -> None:
    assert family("gamma").name == "Gamma" and str(family("Gamma").link) == "inverse"
    assert str(family("Gamma", "log")) == "Gamma(log)"
    assert family("inverse_gaussian").link.name == "1/mu^2"
    assert family(family("poisson"), "sqrt").link.name == "sqrt"
    nb = family("nbinom2")
    assert nb.name == "negative.binomial" and nb.link.name == "log"
    assert nb.with_dispersion(2.5).variance(np.array([2.0]))[0] == pytest.approx(2.0 + 4.0 / 2.5)
    assert nb.sigma(2.5) == 2.5 and nb.dispersion_of_sigma(2.5) == 2.5
    with pytest.raises(mm.ModelSpecError, match="has no link 'logit'"):
        family("inverse.gaussian", "logit")


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("Gamma", 0.0, "Gamma response 'y' must be positive"),
        ("Gamma", -1.5, "Gamma response 'y' must be positive"),
        ("inverse.gaussian", 0.0, "inverse Gaussian response 'y' must be positive"),
        ("poisson", 1.5, "Poisson response 'y' must be non-negative whole counts"),
        ("nbinom2", -1.0, "negative binomial response 'y' must be non-negative whole"),
        ("beta", 0.0, "beta response 'y' must lie strictly between 0 and 1; row 7"),
        ("beta", 1.0, "beta response 'y' must lie strictly between 0 and 1; row 7"),
        ("beta", 1.3, "beta response 'y' must lie strictly between 0 and 1; row 7"),
    ],
)
def test_response_outside_the_support_is_named(name: str, value: float, match: str) -> None:
    rng = np.random.default_rng(3)
    data = pd.DataFrame(
        {"y": rng.gamma(2.0, 1.0, 60) + 1, "x": rng.normal(size=60), "g": np.repeat(range(6), 10)}
    )
    if name in ("poisson", "nbinom2"):
        data["y"] = np.round(data["y"])
    if name == "beta":
        data["y"] = 1.0 / data["y"]
    data.loc[7, "y"] = value
    with pytest.raises(mm.DataError, match=match):
        mm.glmm("y ~ x + (1 | g)", data, family=name, link="logit" if name == "beta" else "log")


def test_nagq_zero_is_refused_with_a_dispersion() -> None:
    data = pd.DataFrame({"y": np.arange(1, 41.0), "g": np.repeat(range(8), 5)})
    with pytest.raises(mm.ModelSpecError, match="nagq = 0.*Gamma.*nagq=1"):
        mm.glmm("y ~ 1 + (1 | g)", data, family="Gamma", link="log", nagq=0)


def test_gaussian_identity_glmm_is_the_ml_lmm() -> None:
    """The Laplace approximation is exact for a Gaussian response on the identity link: the
    dispersion family's machinery must give the ML fit of mm.lmm."""
    rng = np.random.default_rng(11)
    g = np.repeat(np.arange(25), 8)
    x = rng.normal(size=g.size)
    data = pd.DataFrame(
        {"y": 2 + 0.5 * x + rng.normal(0, 0.6, 25)[g] + rng.normal(size=g.size), "x": x, "g": g}
    )
    glmm = mm.glmm("y ~ x + (1 | g)", data, family="gaussian")
    lmm = mm.lmm("y ~ x + (1 | g)", data, reml=False)
    assert abs(glmm.loglik - lmm.loglik) < 1e-6
    np.testing.assert_allclose(glmm.beta, lmm.beta, atol=1e-5 * lmm.std_errors.min())
    assert glmm.dispersion == pytest.approx(lmm.sigma, rel=1e-5)
    assert glmm.varcorr.sd_cor.iloc[0] == pytest.approx(lmm.varcorr.sd_cor.iloc[0], rel=1e-4)
    assert glmm.n_params == lmm.n_params


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_score_is_the_first_derivative(name: str) -> None:
    fam = family(name)
    y, _, w = _data(name)
    phi = 0.7 if fam.has_dispersion else 1.0
    for link_name in fam.links:
        f = family(name, link_name).with_dispersion(phi)
        proportions = name in ("binomial", "beta")
        eta = f.linkfun(np.array([0.35, 0.45, 0.6, 0.3]) if proportions else y + 0.3)
        h = 1e-6
        up = f.log_likelihood(y, f.linkinv(eta + h), w, phi)
        down = f.log_likelihood(y, f.linkinv(eta - h), w, phi)
        score = f.score(y, eta, f.linkinv(eta), f.weights_at(w, phi))
        np.testing.assert_allclose(score, (up - down) / (2 * h), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(n for n in FAMILIES if FAMILIES[n].has_dispersion))
def test_a_dispersion_per_row_is_each_rows_own(name: str) -> None:
    """Under a dispersion model phi is one value per row: every per-row quantity at the
    vector equals the same quantity at each row's phi alone."""
    fam = family(name)
    y, mu, w = _data(name)
    phi = np.array([0.4, 1.3, 2.0, 0.8])
    eta = fam.linkfun(mu)
    at = fam.with_dispersion(phi)
    weights = at.weights_at(w, phi)
    for i in range(y.size):
        one = fam.with_dispersion(float(phi[i]))
        wi = one.weights_at(w[i : i + 1], float(phi[i]))
        rows = slice(i, i + 1)
        np.testing.assert_allclose(
            fam.log_likelihood(y, mu, w, phi)[i],
            fam.log_likelihood(y[rows], mu[rows], w[rows], float(phi[i]))[0],
        )
        np.testing.assert_allclose(at.variance(mu)[i], one.variance(mu[rows])[0])
        np.testing.assert_allclose(
            at.score(y, eta, mu, weights)[i], one.score(y[rows], eta[rows], mu[rows], wi)[0]
        )
        np.testing.assert_allclose(
            at.observed_weights(y, eta, mu, weights)[i],
            one.observed_weights(y[rows], eta[rows], mu[rows], wi)[0],
        )
    np.testing.assert_allclose(fam.dispersion_of_sigma(fam.sigma(phi)), phi)


@pytest.mark.parametrize(("name", "parameter"), [("nbinom2", "size theta"), ("nbinom1", "phi")])
def test_dispersion_running_to_the_poisson_limit_is_reported(name: str, parameter: str) -> None:
    """Underdispersed counts: the negative binomial's parameter has no finite estimate;
    the warning says so, what it started from, where it stopped and what to fit."""
    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(20), 15)
    data = pd.DataFrame(
        {"y": rng.binomial(10, 0.3, g.size).astype(float), "x": rng.normal(size=g.size), "g": g}
    )
    with pytest.warns(mm.ConvergenceWarning) as record:
        fit = mm.glmm("y ~ x + (1 | g)", data, family=name)
    text = " ".join(str(w.message) for w in record)
    assert f"{parameter} did not converge" in text and "Poisson limit" in text
    assert "started from" in text and "deviance evaluations" in text
    assert "family='poisson'" in text
    assert any("did not converge" in note for note in fit.optinfo.warnings)
