"""Newton steps from a point where the Hessian is indefinite (the modified step)."""

from __future__ import annotations

import numpy as np

from mixedmodels.core.newton import (
    QUASI_NEWTON_LAST_STEP,
    modified_step,
    newton_steps,
    quasi_newton,
)


def test_modified_step_is_newtons_along_positive_curvature_and_downhill_along_negative() -> None:
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    values = np.array([-3.0, 0.5, 2.0, 10.0])
    H = (Q * values) @ Q.T
    g = rng.normal(size=4)
    out = modified_step(H, g)
    assert out is not None
    step, positive = out
    np.testing.assert_allclose(np.linalg.eigvalsh(positive), np.sort(np.abs(values)))
    along = Q.T @ step  # the step's coordinates in H's eigenvectors
    np.testing.assert_allclose(along[1:], (Q.T @ g)[1:] / values[1:])
    assert along[0] * (Q.T @ g)[0] > 0  # params - step descends along the negative one
    assert float(g @ step) > 0
    assert modified_step(np.zeros((2, 2)), np.ones(2)) is None
    assert modified_step(np.array([[np.nan, 0.0], [0.0, 1.0]]), np.ones(2)) is None


def _double_well(x: np.ndarray) -> float:
    return float((x[0] ** 2 - 1.0) ** 2 + 0.5 * x[1] ** 2 + 0.1 * x[0])


def test_newton_steps_get_past_an_indefinite_start_only_when_asked() -> None:
    start = np.array([0.2, 0.4])  # (x0^2 - 1)^2 is concave near 0
    lower = np.array([-np.inf])
    stopped = newton_steps(_double_well, start, lower, 1, 1e-4, rounds=30, halvings=4)
    assert not stopped[2] and stopped[3] == np.inf
    params, H, polished, last = newton_steps(
        _double_well, start, lower, 1, 1e-4, rounds=30, halvings=4, quasi=True, modify=True
    )
    assert polished and last < 1e-6
    assert np.all(np.linalg.eigvalsh(H) > 0)  # the Hessian returned is a differenced one
    # the well it lands in is a minimum: the gradient vanishes there
    assert abs(4 * params[0] * (params[0] ** 2 - 1) + 0.1) < 1e-6 and abs(params[1]) < 1e-6


def test_a_modified_step_stays_inside_thetas_bound() -> None:
    # at theta = 0.3 the curvature is negative and the descent direction points to
    # theta = -2.4: the step is shortened to half-way to the bound instead of ending there
    def f(x: np.ndarray) -> float:
        return float(-(x[0] ** 2) + 3.0 * x[0] + x[0] ** 4 + (x[1] - 0.2) ** 2)

    seen: list[float] = []

    def counted(x: np.ndarray) -> float:
        seen.append(float(x[0]))
        return f(x)

    start = np.array([0.3, 0.0])
    params, _, polished, _ = newton_steps(
        counted, start, np.array([0.0]), 1, 1e-4, rounds=5, halvings=4, modify=True
    )
    assert polished and 0.0 < params[0] <= 0.15 + 1e-12
    assert min(seen) >= -1e-4 - 1e-12  # only the difference points step below the bound


def _smooth_bowl(x: np.ndarray) -> float:
    """A convex function that is not quadratic (BFGS converges superlinearly on it)."""
    return float(np.sum(np.cosh(x - 0.7)) + 0.3 * (x[0] - x[1]) ** 2 + 0.05 * x[0] ** 4)


def _bowl_gradient(x: np.ndarray) -> np.ndarray:
    d = x[0] - x[1]
    return np.sinh(x - 0.7) + np.array([0.6 * d + 0.2 * x[0] ** 3, -0.6 * d])


def test_quasi_newton_takes_its_last_short_step_with_the_criterion_alone() -> None:
    lower = np.array([0.0, -np.inf])
    start = np.array([1.3, 0.2])
    H0 = np.array([[2.0, -0.5], [-0.5, 1.6]])  # near the Hessian at the optimum
    graded: list[np.ndarray] = []
    valued: list[np.ndarray] = []

    def gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
        graded.append(x.copy())
        return _smooth_bowl(x), _bowl_gradient(x)

    def criterion(x: np.ndarray) -> float:
        valued.append(x.copy())
        return _smooth_bowl(x)

    confirmed, at_confirmed = quasi_newton(gradient, start, lower, H0)
    n_confirmed = len(graded)
    graded.clear()
    last, at_last = quasi_newton(gradient, start, lower, H0, criterion=criterion)
    assert at_confirmed is not None and at_last is not None
    assert at_confirmed.gradient_at is None
    # the last step went by the criterion alone, from the last point with a gradient
    assert len(valued) == 1 and len(graded) < n_confirmed
    assert at_last.gradient_at is not None
    np.testing.assert_array_equal(at_last.gradient_at, graded[-1])
    np.testing.assert_array_equal(valued[0], last)
    step = np.linalg.solve(at_last.hessian, at_last.gradient)
    assert np.max(np.abs(step)) < QUASI_NEWTON_LAST_STEP
    # the point it reached is the optimum the confirmed run reaches, to its tolerance
    assert np.max(np.abs(last - confirmed)) < 1e-9
    assert np.max(np.abs(_bowl_gradient(last))) < 1e-9


def test_quasi_newton_takes_no_last_step_without_a_rate_to_judge_it_by() -> None:
    # started at the optimum, the first step is short, but there is no earlier step to
    # show that the steps converge: its gradient is computed
    lower = np.array([0.0, -np.inf])
    H0 = np.array([[2.0, -0.5], [-0.5, 1.6]])
    start, _ = quasi_newton(
        lambda x: (_smooth_bowl(x), _bowl_gradient(x)), np.array([1.3, 0.2]), lower, H0
    )
    valued: list[np.ndarray] = []

    def criterion(x: np.ndarray) -> float:
        valued.append(x)
        return _smooth_bowl(x)

    moved = start + np.array([3e-7, -2e-7])
    _, reached = quasi_newton(
        lambda x: (_smooth_bowl(x), _bowl_gradient(x)), moved, lower, H0, criterion=criterion
    )
    assert reached is not None and reached.gradient_at is None and not valued
