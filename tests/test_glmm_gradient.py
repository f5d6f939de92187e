"""The analytic gradient of the Laplace deviance (one scalar term, canonical link) against
central differences, the fits it drives against those by differences of the deviance, and
the prediction of the modes that starts PIRLS at differenced points."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.core.covariance import covariance_layout
from mixedmodels.design.frame import model_frame
from mixedmodels.glmm import estimate as glmm_fit
from mixedmodels.glmm.family import family as get_family
from mixedmodels.glmm.gradient import has_laplace_gradient, laplace_gradient
from mixedmodels.glmm.pirls import GlmmProblem


def _slope_data() -> pd.DataFrame:
    """Poisson counts with a random coefficient on a covariate that is not all ones, and
    prior weights."""
    rng = np.random.default_rng(3)
    n, m = 1500, 40
    g = rng.integers(0, m, n)
    x, z = rng.normal(size=n), rng.normal(size=n)
    eta = 0.3 + 0.5 * x + rng.normal(0, 0.6, m)[g] * z
    return pd.DataFrame(
        {"g": g, "x": x, "z": z, "y": rng.poisson(np.exp(eta)), "w": rng.uniform(0.5, 2, n)}
    )


CASES = {
    "binomial trials": (
        "cbind(incidence, size - incidence) ~ period + (1 | herd)",
        "binomial",
        None,
    ),
    "poisson offset": ("incidence ~ period + offset(log(size)) + (1 | herd)", "poisson", None),
    "slope weights": ("y ~ x + (0 + z | g)", "poisson", "w"),
}


def _problem(case: str) -> GlmmProblem:
    formula, name, weights = CASES[case]
    data = _slope_data() if case == "slope weights" else mm.datasets.load("cbpp")
    fam = get_family(name)
    kind = "binomial" if name == "binomial" else "numeric"
    frame = model_frame(formula, data, weights=weights, response_kind=kind, residual_variance=False)
    return GlmmProblem(frame, covariance_layout(frame), fam)


@pytest.mark.parametrize("case", list(CASES))
def test_gradient_and_mode_derivatives_match_central_differences(case: str) -> None:
    problem = _problem(case)
    assert has_laplace_gradient(problem)
    beta = problem.pirls(np.array([0.7]), None).beta + 0.05  # away from any optimum
    x = np.concatenate([[0.7], beta])

    def at(point: np.ndarray) -> tuple[float, np.ndarray]:
        state = problem.pirls(point[:1], point[1:])
        return problem.laplace(state), state.u

    gradient, modes = laplace_gradient(problem, problem.pirls(x[:1], x[1:]))
    h = 1e-5
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = h
        (up, u_up), (down, u_down) = at(x + e), at(x - e)
        assert gradient[j] == pytest.approx((up - down) / (2 * h), rel=1e-6, abs=1e-6)
        np.testing.assert_allclose(modes[:, j], (u_up - u_down) / (2 * h), rtol=0, atol=1e-6)


def test_gradient_needs_one_scalar_term_and_a_canonical_link() -> None:
    cbpp = mm.datasets.load("cbpp")
    for formula, link in (
        ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "probit"),
        ("cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | period)", "logit"),
    ):
        frame = model_frame(formula, cbpp, response_kind="binomial", residual_variance=False)
        problem = GlmmProblem(frame, covariance_layout(frame), get_family("binomial", link))
        assert not has_laplace_gradient(problem)


@pytest.mark.parametrize("case", list(CASES))
def test_gradient_fit_matches_the_difference_fit(case: str, monkeypatch) -> None:
    formula, name, weights = CASES[case]
    data = _slope_data() if case == "slope weights" else mm.datasets.load("cbpp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.ConvergenceWarning)
        fit = mm.glmm(formula, data, family=name, weights=weights)
        monkeypatch.setattr(glmm_fit, "has_laplace_gradient", lambda problem: False)
        other = mm.glmm(formula, data, family=name, weights=weights)
    assert fit.optinfo.optimizer.startswith("Newton's method with the analytic gradient")
    assert not other.optinfo.optimizer.startswith("Newton's method with the analytic gradient")
    assert fit.optinfo.n_evaluations < other.optinfo.n_evaluations
    # as low a deviance or lower, at the same optimum
    assert fit.objective <= other.objective + 1e-9 * abs(other.objective)
    se = other.std_errors.to_numpy()
    np.testing.assert_allclose(fit.fixef, other.fixef, rtol=0, atol=1e-4 * se.min())
    np.testing.assert_allclose(fit.std_errors, se, rtol=1e-4)
    np.testing.assert_allclose(fit.theta, other.theta, rtol=1e-4)


def test_mode_guess_follows_the_slopes_of_its_neighbours() -> None:
    from mixedmodels.glmm.mode_guess import ModeGuess

    A = np.array([[1.0, -2.0, 0.5], [0.3, 0.0, 1.0]])  # modes linear in x: u = A x + c

    def modes(x: np.ndarray) -> np.ndarray:
        return A @ x + np.array([0.2, -0.1])

    guess = ModeGuess()
    assert guess.predict(np.zeros(3)) is None
    centre, h = np.array([0.5, 1.0, -1.0]), 1e-3
    guess.record(centre, modes(centre))
    np.testing.assert_array_equal(guess.predict(centre + h), modes(centre))  # no slope yet
    for i in range(3):
        point = centre.copy()
        point[i] += h
        guess.record(point, modes(point))
    for x in (centre - h, centre + np.array([h, -h, 0.0]), centre + 0.3):
        np.testing.assert_allclose(guess.predict(x), modes(x), rtol=0, atol=1e-12)
