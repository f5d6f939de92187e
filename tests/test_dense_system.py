"""The dense system of a small model against the blocked kernels and finite differences."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.core.densesystem import DENSE_SYSTEM_MAX, DenseSystem
from mixedmodels.core.solution import solve
from mixedmodels.lmm.gradient import objective_gradient


def _blocked(model: object, theta: np.ndarray, reml: bool) -> tuple[float, np.ndarray]:
    ws = model.workspace  # type: ignore[attr-defined]
    theta_map = model.theta_map  # type: ignore[attr-defined]
    fac = ws.factorize(theta_map.factors(theta), keep_schur=True)
    grad = objective_gradient(ws, fac, solve(ws, fac), theta_map.position, reml)
    return ws.objective(fac, reml), grad


def _weighted_nested() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 120
    school = rng.integers(0, 6, n)
    klass = school * 3 + rng.integers(0, 3, n)
    x = rng.normal(size=n)
    y = 1 + 0.5 * x + rng.normal(size=6)[school] + 0.5 * rng.normal(size=18)[klass]
    return pd.DataFrame(
        {
            "y": y + rng.normal(size=n),
            "x": x,
            "school": school.astype(str),
            "klass": klass.astype(str),
            "w": rng.uniform(0.5, 2.0, n),
        }
    )


CASES = [
    ("Reaction ~ Days + (Days | Subject)", "sleepstudy", None),
    ("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", "sleepstudy", None),
    ("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", None),
    ("strength ~ 1 + (1 | batch / cask)", "Pastes", None),
    ("y ~ x + (x | school) + (1 | klass)", "nested", "w"),
    ("y ~ 0 + (1 | school)", "nested", None),
]


def _data(name: str) -> pd.DataFrame:
    return _weighted_nested() if name == "nested" else mm.datasets.load(name)


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize(("formula", "data_name", "weights"), CASES)
def test_criterion_and_gradient_equal_the_blocked_kernels(
    formula: str, data_name: str, weights: str | None, reml: bool
) -> None:
    data = _data(data_name)
    fit = mm.lmm(formula, data, reml=reml, weights=weights)
    model = fit.model
    dense = DenseSystem.of(model.products, model.tail_shapes, model.theta_map)
    assert DenseSystem.fits(model.products, model.tail_shapes)
    assert model.dense_system is not None
    rng = np.random.default_rng(7)
    diagonal = model.theta_map.position[:, 1] == model.theta_map.position[:, 2]
    optimum = model.internal_theta(fit.theta)
    for _ in range(4):
        theta = optimum * (1.0 + 0.4 * rng.standard_normal(optimum.size))
        theta = np.where(diagonal, np.abs(theta) + 0.05, theta)
        value, grad = dense.objective_and_gradient(theta, reml)
        blocked_value, blocked_grad = _blocked(model, theta, reml)
        assert value == pytest.approx(blocked_value, rel=1e-12)
        np.testing.assert_allclose(grad, blocked_grad, rtol=1e-8, atol=1e-8 * np.abs(grad).max())
        assert dense.objective(theta, reml) == value


def test_gradient_equals_central_differences_at_a_boundary_point() -> None:
    data = mm.datasets.load("sleepstudy")
    fit = mm.lmm("Reaction ~ Days + (Days | Subject)", data)
    model = fit.model
    dense = DenseSystem.of(model.products, model.tail_shapes, model.theta_map)
    theta = np.array([0.0, 0.3, 0.2])  # the intercept's standard deviation at its bound
    _, grad = dense.objective_and_gradient(theta, True)
    h = 1e-6
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = h
        diff = (dense.objective(theta + step, True) - dense.objective(theta - step, True)) / (2 * h)
        assert grad[i] == pytest.approx(diff, rel=1e-5, abs=1e-6)


def test_a_new_response_changes_only_the_response_blocks() -> None:
    data = mm.datasets.load("sleepstudy")
    fit = mm.lmm("Reaction ~ Days + (Days | Subject)", data)
    y = fit.simulate(1, seed=4)[:, 0]
    refitted = fit.refit(y)
    again = mm.lmm("Reaction ~ Days + (Days | Subject)", data.assign(Reaction=y))
    dense = refitted.model.dense_system
    fresh = again.model.dense_system
    assert dense is not None and fresh is not None
    np.testing.assert_allclose(dense.A, fresh.A, rtol=1e-12, atol=1e-9)
    assert refitted.objective == pytest.approx(again.objective, rel=1e-10)


def test_large_models_keep_the_blocked_kernels() -> None:
    rng = np.random.default_rng(0)
    n_groups = DENSE_SYSTEM_MAX  # with the intercept and the response: above the bound
    data = pd.DataFrame(
        {"y": rng.normal(size=4 * n_groups), "g": np.repeat(np.arange(n_groups), 4).astype(str)}
    )
    fit = mm.lmm("y ~ 1 + (1 | g)", data)
    assert fit.model.dense_system is None
    small = mm.lmm("y ~ 1 + (1 | g)", data[data["g"].astype(int) < 20])
    assert small.model.dense_system is not None


def test_a_singular_fixed_part_is_an_infinite_criterion() -> None:
    data = mm.datasets.load("sleepstudy")
    fit = mm.lmm("Reaction ~ Days + (1 | Subject)", data)
    dense = DenseSystem.of(fit.model.products, fit.model.tail_shapes, fit.model.theta_map)
    broken = replace(dense, A=np.zeros_like(dense.A))
    value, grad = broken.objective_and_gradient(np.array([1.0]), True)
    assert value == np.inf and not grad.any()
    assert broken.objective(np.array([1.0]), True) == np.inf
