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


def _fit_and_start(formula: str, data: pd.DataFrame) -> tuple[mm.LmmResult, np.ndarray]:
    """The fit and the moment estimate of its model (which must have one)."""
    fit = mm.lmm(formula, data)
    model = fit.model
    start = moment_theta(model.products, model.tail_shapes, model.theta_map)
    assert start is not None
    return fit, start


def test_the_estimate_lies_near_the_optimum_of_a_crossed_design() -> None:
    fit, start = _fit_and_start("y ~ x + (1 | subj) + (1 | item)", _crossed(300, 80, 6000))
    model = fit.model
    assert model.dense_system is None
    # moment equations of the response, not of the residuals: close, not exact
    np.testing.assert_allclose(start, model.internal_theta(fit.theta), rtol=0.1)
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


def test_a_vector_term_starts_from_the_two_stage_estimate() -> None:
    # per-subject least-squares lines from the rows, their covariance less the mean
    # sampling covariance: what the cross-product blocks give
    data = mm.datasets.load("sleepstudy")
    fit, start = _fit_and_start("Reaction ~ Days + (Days | Subject)", data)
    model = fit.model
    # the model's blocks are of Days centred and scaled (in X and in Z alike)
    transform = model.conditioning.terms[0]
    np.testing.assert_array_equal(transform.center, model.conditioning.fixed.center)
    np.testing.assert_array_equal(transform.scale, model.conditioning.fixed.scale)
    X = (np.column_stack([np.ones(len(data)), data["Days"]]) - transform.center) / transform.scale
    y = data["Reaction"].to_numpy()
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    r = y - X @ beta
    lines, inverses, within = [], [], 0.0
    for _, rows in data.groupby("Subject").indices.items():
        Xl, rl = X[rows], r[rows]
        b, *_ = np.linalg.lstsq(Xl, rl, rcond=None)
        lines.append(b)
        inverses.append(np.linalg.inv(Xl.T @ Xl))
        within += float(np.sum((rl - Xl @ b) ** 2))
    sigma2 = within / (len(data) - 2 - 2 * len(lines))
    covariance = np.cov(np.array(lines), rowvar=False) - sigma2 * np.mean(inverses, axis=0)
    factor = np.linalg.cholesky(covariance / sigma2)
    np.testing.assert_allclose(start, [factor[0, 0], factor[1, 0], factor[1, 1]], rtol=1e-9)
    # close to the optimum, which the Newton steps then reach (lme4's theta, 1e-5)
    np.testing.assert_allclose(start, model.internal_theta(fit.theta), rtol=0.25)
    assert fit.optinfo.optimizer.startswith("Newton steps with the analytic gradient from a moment")
    np.testing.assert_allclose(fit.theta, [0.96673, 0.015169, 0.23091], rtol=2e-4)


def test_a_balanced_design_starts_at_its_optimum() -> None:
    # for balanced data the REML estimates are the analysis-of-variance ones (when
    # positive): the start is the optimum, and the fit takes the start and its
    # differenced Hessian only
    data = mm.datasets.load("Penicillin")
    fit, start = _fit_and_start("diameter ~ 1 + (1 | plate) + (1 | sample)", data)
    model = fit.model
    np.testing.assert_allclose(start, model.internal_theta(fit.theta), rtol=1e-8)
    assert fit.optinfo.n_evaluations == 1 + len(start)


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


def _method_one(data: pd.DataFrame, factors: list[str]) -> np.ndarray:
    """Henderson's Method I from the rows themselves: least-squares residuals of y on x,
    sums of squares by pandas grouping, the equations solved with numpy."""
    X = np.column_stack([np.ones(len(data)), data["x"]])
    beta, *_ = np.linalg.lstsq(X, data["y"].to_numpy(), rcond=None)
    r = data["y"].to_numpy() - X @ beta
    frame = data.assign(r=r)
    n, p = len(data), X.shape[1]
    size = {f: frame.groupby(f).size() for f in factors}
    k = {f: float((size[f] ** 2).sum()) / n for f in factors}
    rows, observed = [], []
    for f in factors:
        between = float((frame.groupby(f)["r"].sum() ** 2 / size[f]).sum())
        row = [len(size[f]) - 1.0]
        for g in factors:
            cross = frame.groupby([f, g]).size()
            K = float(n if f == g else (cross**2 / size[f].reindex(cross.index, level=0)).sum())
            row.append(K - k[g])
        rows.append(row)
        observed.append(between)
    rows.append([n - p] + [n - k[g] for g in factors])
    observed.append(float(r @ r))
    solved = np.linalg.solve(np.array(rows), np.array(observed))
    return np.sqrt(np.maximum(solved[1:], 0.0) / solved[0])


def test_the_joint_moment_equations_match_plain_arithmetic() -> None:
    rng = np.random.default_rng(11)
    data = _crossed(250, 60, 5000, seed=11)
    data["block"] = rng.integers(0, 12, len(data)).astype(str)
    for factors in (["subj", "item"], ["subj", "item", "block"]):
        formula = "y ~ x + " + " + ".join(f"(1 | {f})" for f in factors)
        model = mm.lmm(formula, data).model
        start = moment_theta(model.products, model.tail_shapes, model.theta_map)
        assert start is not None
        # the model orders its factors by levels; the scalar terms' Z are unscaled
        order = [f for f in sorted(factors, key=lambda f: -data[f].nunique())]
        expected = np.maximum(_method_one(data, order), MIN_START)
        np.testing.assert_allclose(start, expected, rtol=1e-9)


def test_the_joint_equations_bring_a_crossed_fit_in_fewer_evaluations() -> None:
    # each factor's one-way estimate counts the other's variance as its own
    data = _crossed(400, 120, 12000, seed=13)
    fit = mm.lmm("y ~ x + (1 | subj) + (1 | item)", data)
    model = fit.model
    joint = moment_theta(model.products, model.tail_shapes, model.theta_map)
    assert joint is not None
    optimum = model.internal_theta(fit.theta)
    np.testing.assert_allclose(joint, optimum, rtol=0.05)
    assert fit.optinfo.n_evaluations <= 8


def test_small_levels_give_a_vector_start_near_the_optimum() -> None:
    # five rows a level: many lines are barely determined (or not at all, one row);
    # their noise would swamp the spread, so only well-determined levels estimate it,
    # while every level's own fit estimates sigma^2
    rng = np.random.default_rng(21)
    n_levels = 3000
    g = rng.integers(0, n_levels, 15_000)
    x = rng.normal(size=g.size)
    b = rng.multivariate_normal([0.0, 0.0], [[0.45, 0.05], [0.05, 0.25]], n_levels)
    y = 1.0 + 0.5 * x + b[g, 0] + b[g, 1] * x + rng.normal(size=g.size)
    data = pd.DataFrame({"y": y, "x": x, "g": g.astype(str)})
    fit, start = _fit_and_start("y ~ x + (1 + x | g)", data)
    model = fit.model
    optimum = model.internal_theta(fit.theta)
    np.testing.assert_allclose(start, optimum, atol=0.1 * np.max(np.abs(optimum)))
    assert fit.optinfo.optimizer.startswith("Newton steps with the analytic gradient from a moment")
    from_lme4 = mm.lmm("y ~ x + (1 + x | g)", data, start=[1.0, 0.0, 1.0])
    assert fit.objective == pytest.approx(from_lme4.objective, rel=1e-12, abs=1e-9)
