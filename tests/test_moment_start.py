"""The moment estimate of theta that large fits of scalar terms start from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.core.momentstart import MIN_START, moment_theta


def _crossed(n_subjects: int, n_items: int, rows: int, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    subj = rng.integers(0, n_subjects, rows)
    item = rng.integers(0, n_items, rows)
    x = rng.normal(size=rows)
    y = (
        1.0
        + 0.3 * x
        + 0.8 * rng.normal(size=n_subjects)[subj]
        + 0.5 * rng.normal(size=n_items)[item]
        + rng.normal(size=rows)
    )
    return pd.DataFrame({"y": y, "x": x, "subj": subj.astype(str), "item": item.astype(str)})


def test_the_estimate_lies_near_the_optimum_of_a_crossed_design() -> None:
    fit = mm.lmm("y ~ x + (1 | subj) + (1 | item)", _crossed(300, 80, 6000))
    model = fit.model
    assert model.dense_system is None
    start = moment_theta(model.products, model.tail_shapes, model.theta_map)
    assert start is not None
    # each factor alone: crossed factors share variance, so within a third, not exact
    np.testing.assert_allclose(start, model.internal_theta(fit.theta), rtol=0.35)
    assert fit.optinfo.optimizer.startswith("Newton steps with the analytic gradient from a moment")


def test_the_fit_from_the_estimate_equals_the_fit_from_lme4s_start() -> None:
    data = _crossed(300, 80, 6000, seed=5)
    formula = "y ~ x + (1 | subj) + (1 | item)"
    fit = mm.lmm(formula, data)
    from_one = mm.lmm(formula, data, start=[1.0, 1.0])
    assert fit.objective == pytest.approx(from_one.objective, rel=1e-12, abs=1e-9)
    np.testing.assert_allclose(fit.theta, from_one.theta, rtol=1e-6)


def test_a_factor_without_variance_starts_inside_its_bound() -> None:
    rng = np.random.default_rng(0)
    rows = 4000
    data = pd.DataFrame({"y": rng.normal(size=rows), "g": rng.integers(0, 200, rows).astype(str)})
    model = mm.lmm("y ~ 1 + (1 | g)", data).model
    start = moment_theta(model.products, model.tail_shapes, model.theta_map)
    assert start is not None and start[0] >= MIN_START


def test_vector_terms_keep_lme4s_start() -> None:
    data = mm.datasets.load("sleepstudy")
    model = mm.lmm("Reaction ~ Days + (Days | Subject)", data).model
    assert moment_theta(model.products, model.tail_shapes, model.theta_map) is None


def test_the_hessian_kept_after_steps_on_the_sinh_scale_is_over_theta() -> None:
    # the steps run over u (theta = tau sinh u); what a refit reads is over theta
    from mixedmodels.core.newton import gradient_differences

    fit = mm.lmm("y ~ x + (1 | subj) + (1 | item)", _crossed(300, 80, 6000, seed=7))
    model = fit.model
    assert "sinh scale" in fit.optinfo.optimizer
    kept = fit.optinfo.hessian
    assert kept is not None
    theta = model.internal_theta(fit.theta)

    def gradient(t: np.ndarray) -> tuple[float, np.ndarray]:
        from mixedmodels.core.solution import solve
        from mixedmodels.lmm.gradient import objective_gradient

        ws = model.workspace
        fac = ws.factorize(model.theta_map.factors(t), keep_schur=True)
        grad = objective_gradient(ws, fac, solve(ws, fac), model.theta_map.position, True)
        return ws.objective(fac, True), grad

    value, grad = gradient(theta)
    fresh = gradient_differences(gradient, theta, grad, 1e-6)
    # BFGS updates of a differenced Hessian: close to the curvature, not equal to it
    np.testing.assert_allclose(kept, fresh, rtol=0.1, atol=0.02 * np.max(np.abs(fresh)))
