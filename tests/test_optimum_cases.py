"""Every fit at its optimum: the boundary conditions, invariance under the covariates'
origin and unit, nAGQ = 0, and the criterion's precision with an uncentred covariate.

lme4's numbers come from ``tests/reference/optimum_cases.R`` (the lower of its default and
its tight fit, see the script); ``tests/test_optimum.py`` holds the simulation tier.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm

REF = Path(__file__).parent / "reference"
CASES = json.loads((REF / "optimum_cases.json").read_text())


def _load(name: str) -> pd.DataFrame:
    data = pd.read_csv(REF / "data" / f"{name}.csv")
    levels = json.loads((REF / "data" / f"{name}.levels.json").read_text())
    for column, values in levels.items():
        data[column] = pd.Categorical(data[column].astype(str), categories=values)
    return data


def _quiet_glmm(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mm.glmm(*args, **kwargs)


def _quiet_lmm(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mm.lmm(*args, **kwargs)


def _assert_at_lme4_or_lower(ours: float, case: str) -> None:
    best = CASES[case]["criterion"]
    # within 1e-6 relative of lme4's best fit, or lower (a better optimum); far below would
    # mean another objective
    assert ours <= best + 1e-6 * abs(best), (case, ours, best)
    assert ours >= best - 1e-2, (case, ours, best)


@pytest.mark.parametrize(
    ("case", "formula", "family", "data"),
    [
        (
            "contraception_nagq0",
            "use ~ age + I(age^2) + urban + livch + (1 | district)",
            "binomial",
            "Contraception",
        ),
        (
            "contraception_slopes_nagq0",
            "use ~ age + I(age^2) + urban + livch + (urban | district)",
            "binomial",
            "Contraception",
        ),
        (
            "grouseticks_nagq0",
            "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION)",
            "poisson",
            "grouseticks",
        ),
        (
            "grouseticks_index_nagq0",
            "TICKS ~ YEAR + HEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)",
            "poisson",
            "grouseticks",
        ),
    ],
)
def test_nagq0_reaches_lme4s_optimum(case: str, formula: str, family: str, data: str) -> None:
    fit = _quiet_glmm(formula, _load(data), family=family, nagq=0)
    _assert_at_lme4_or_lower(-2.0 * fit.loglik, case)
    # nAGQ = 0 is the fit, not a loose first stage: theta within 1e-3 of lme4's
    np.testing.assert_allclose(fit.theta, CASES[case]["theta"], atol=1e-3)


def test_cloglog_with_offset_and_weights_reaches_lme4s_optimum() -> None:
    cbpp = mm.datasets.load("cbpp")
    cbpp["proportion"] = cbpp["incidence"] / cbpp["size"]
    cbpp["exposure"] = np.log(cbpp["size"] / 15)
    fit = _quiet_glmm(
        "proportion ~ period + offset(exposure) + (1 | herd)",
        cbpp,
        family="binomial",
        link="cloglog",
        weights="size",
    )
    _assert_at_lme4_or_lower(-2.0 * fit.loglik, "cbpp_cloglog_offset_weights")


def _reml_criterion_longdouble(data: pd.DataFrame, theta: float) -> float:
    """The profiled REML criterion of ``y ~ x + (1 | g)`` in extended precision, from the
    per-group closed form ``V* = I + theta^2 1 1'`` (no cross-products)."""
    ld = np.longdouble
    y = data["y"].to_numpy().astype(ld)
    X = np.column_stack([np.ones(len(data)), data["x"].to_numpy()]).astype(ld)
    groups = data["g"].to_numpy()
    t2 = ld(theta) ** 2
    XtVX = np.zeros((2, 2), dtype=ld)
    XtVy = np.zeros(2, dtype=ld)
    logdet_l = ld(0)
    parts = []
    for level in pd.unique(groups):
        rows = groups == level
        Xg, yg = X[rows], y[rows]
        c = t2 / (1 + t2 * rows.sum())
        sx, sy = Xg.sum(axis=0), yg.sum()
        XtVX += Xg.T @ Xg - c * np.outer(sx, sx)
        XtVy += Xg.T @ yg - c * sx * sy
        logdet_l += np.log1p(t2 * rows.sum())
        parts.append((Xg, yg, c))
    # solve the 2 x 2 system by Cramer's rule (numpy's solvers are double precision)
    det = XtVX[0, 0] * XtVX[1, 1] - XtVX[0, 1] * XtVX[1, 0]
    beta = np.array(
        [
            (XtVy[0] * XtVX[1, 1] - XtVX[0, 1] * XtVy[1]) / det,
            (XtVX[0, 0] * XtVy[1] - XtVX[1, 0] * XtVy[0]) / det,
        ]
    )
    r2 = ld(0)
    for Xg, yg, c in parts:
        e = yg - Xg @ beta
        r2 += e @ e - c * e.sum() ** 2
    n, p = len(data), 2
    dof = ld(n - p)
    value = logdet_l + np.log(det) + dof * (1 + np.log(2 * np.pi * r2 / dof))
    return float(value)


def test_uncentred_covariate_criterion_to_1e10() -> None:
    data = pd.read_csv(REF / "fewlevels.csv")
    fit = _quiet_lmm("y ~ x + (1 | g)", data)
    _assert_at_lme4_or_lower(fit.objective, "fewlevels")
    exact = _reml_criterion_longdouble(data, float(fit.theta[0]))
    assert abs(fit.objective - exact) <= 1e-10 * abs(exact), (fit.objective, exact)
    # and at another theta, through the model object
    other = fit.model.objective(np.array([0.8]))
    exact_other = _reml_criterion_longdouble(data, 0.8)
    assert abs(other - exact_other) <= 1e-10 * abs(exact_other), (other, exact_other)


# -- invariance under the covariates' origin and unit --------------------------------------
TRANSFORMS = [(1e3, 1.0), (2010.0, 1.0), (0.0, 1e3), (0.0, 1e-3), (100.0, 1e-3)]


@pytest.mark.parametrize(("shift", "scale"), TRANSFORMS)
@pytest.mark.parametrize("reml", [False, True])
def test_lmm_invariant_to_covariate_origin_and_unit(shift: float, scale: float, reml: bool) -> None:
    sleep = mm.datasets.load("sleepstudy")
    formula = "Reaction ~ Days + (Days | Subject)"
    base = _quiet_lmm(formula, sleep, reml=reml)
    moved = sleep.assign(Days=sleep["Days"] * scale + shift)
    fit = _quiet_lmm(formula, moved, reml=reml)
    # REML's log|R_X|^2 changes by the Jacobian 2 log|det T| of x -> a x + c: 2 log|a|
    jacobian = 2.0 * np.log(abs(scale)) if reml else 0.0
    assert abs(fit.objective - jacobian - base.objective) <= 1e-8 * abs(base.objective)
    np.testing.assert_allclose(fit.fitted, base.fitted, rtol=0, atol=1e-6)
    assert not fit.is_singular
    assert fit.optinfo.converged
    # the same variance components, expressed for the moved covariate
    sd = base.varcorr.set_index(["group", "term1", "term2"], drop=False)["sd_cor"]
    sd_moved = fit.varcorr["sd_cor"].to_numpy()
    assert abs(sd_moved[1] - sd.iloc[1] / scale) <= 1e-6 * sd.iloc[1] / scale
    assert abs(fit.sigma - base.sigma) <= 1e-8 * base.sigma


def _poisson_slopes(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    groups, per = 40, 12
    g = np.repeat(np.arange(groups), per)
    x = rng.uniform(0, 4, groups * per)
    b = rng.multivariate_normal([0, 0], [[0.25, -0.02], [-0.02, 0.04]], size=groups)
    eta = 0.5 + 0.3 * x + b[g, 0] + b[g, 1] * x
    return pd.DataFrame({"y": rng.poisson(np.exp(eta)), "x": x, "g": g})


@pytest.mark.parametrize(("shift", "scale"), TRANSFORMS)
def test_glmm_invariant_to_covariate_origin_and_unit(shift: float, scale: float) -> None:
    data = _poisson_slopes()
    formula = "y ~ x + (1 + x | g)"
    base = _quiet_glmm(formula, data, family="poisson")
    fit = _quiet_glmm(formula, data.assign(x=data["x"] * scale + shift), family="poisson")
    assert abs(fit.objective - base.objective) <= 1e-8 * abs(base.objective)
    np.testing.assert_allclose(
        fit.predict(type="link"), base.predict(type="link"), rtol=0, atol=1e-6
    )
    assert not fit.is_singular


# -- the boundary: false corners left, true ones kept ----------------------------------------
def _slope_data(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    groups, per = 100, 20
    g = np.repeat(np.arange(groups), per)
    x = rng.normal(size=groups * per)
    b = rng.normal(scale=0.3, size=(groups, 2))
    y = 1 + 0.5 * x + b[g, 0] + b[g, 1] * x + rng.normal(size=groups * per)
    return pd.DataFrame({"y": y, "x": x, "g": g})


def test_a_false_corner_is_left_for_the_optimum() -> None:
    data = _slope_data(0)
    best = _quiet_lmm("y ~ x + (1 + x | g)", data)
    assert not best.is_singular
    # theta = [0, t, 0] is a corner the triangular parametrization cannot see past:
    # a gradient method started there stays (this is where such fits used to end)
    fit = _quiet_lmm("y ~ x + (1 + x | g)", data, start=[0.0, 0.3, 0.0])
    assert abs(fit.objective - best.objective) <= 1e-8 * best.objective
    assert not fit.is_singular
    assert fit.optinfo.boundary is not None and fit.optinfo.boundary.restarts >= 1


def test_true_boundary_is_reported_with_its_conditions() -> None:
    fit = _quiet_lmm("Yield ~ 1 + (1 | Batch)", mm.datasets.load("Dyestuff2"))
    assert fit.is_singular
    check = fit.optinfo.boundary
    assert check is not None and check.terms == (0,)
    # adding variance raises the criterion: the one-sided derivative is positive
    assert check.curvature > 0 and check.gradient < 1e-6
    assert check.passed(fit.objective)


def test_zero_slope_variance_truth_is_singular_and_optimal() -> None:
    rng = np.random.default_rng(11)
    groups, per = 30, 10
    g = np.repeat(np.arange(groups), per)
    x = rng.normal(size=groups * per)
    # random intercepts only: the slope variance's optimum is on the boundary for this seed
    y = 1 + x + rng.normal(scale=0.8, size=groups)[g] + rng.normal(size=groups * per)
    data = pd.DataFrame({"y": y, "x": x, "g": g})
    fit = _quiet_lmm("y ~ x + (1 + x | g)", data)
    starts = [[1.0, 0.0, 1.0], [0.5, 0.5, 0.5], [2.0, -1.0, 0.1], [0.1, 0.0, 2.0]]
    others = [_quiet_lmm("y ~ x + (1 + x | g)", data, start=s).objective for s in starts]
    assert fit.objective <= min(others) + 1e-8 * abs(fit.objective)
    if fit.is_singular:
        assert fit.optinfo.boundary is not None and fit.optinfo.boundary.passed(fit.objective)


def test_start_is_checked() -> None:
    sleep = mm.datasets.load("sleepstudy")
    with pytest.raises(mm.ModelSpecError, match="3 finite numbers"):
        mm.lmm("Reaction ~ Days + (Days | Subject)", sleep, start=[1.0, 0.0])
    with pytest.raises(mm.ModelSpecError, match="non-negative"):
        mm.lmm("Reaction ~ Days + (Days | Subject)", sleep, start=[-1.0, 0.0, 1.0])


def test_a_stop_far_from_a_stationary_point_is_noticed() -> None:
    # L-BFGS-B can stop on a small change of the criterion with a gradient far from 0
    # (its curvature pairs spoilt by a visit to a bound where a diagonal's derivative
    # vanishes); such a stop is searched again, while a gradient into the bound is fine
    from mixedmodels.core.optimize import _stalled

    lower = np.array([0.0, -np.inf, 0.0])
    theta = np.array([1.79, 0.72, 0.0])
    assert _stalled(theta, 1725.76, np.array([3.7, -9.7, 0.0]), lower)
    assert not _stalled(theta, 1725.76, np.array([1e-6, -2e-6, 50.0]), lower)
    assert _stalled(theta, 1725.76, np.array([1e-6, -2e-6, -50.0]), lower)
    assert not _stalled(theta, 0.0, np.array([1e-6, 0.0, 0.0]), lower)


def test_search_scale_maps_diagonals_only() -> None:
    from mixedmodels.core.searchscale import AT_BOUND, DiagonalScale

    lower = np.array([0.0, -np.inf, 0.0])
    scale = DiagonalScale(lower)
    theta = np.array([0.0, -0.7, 2.5])
    u = scale.search(theta)
    assert u[0] == 0.0 and u[1] == -0.7  # the bound stays at 0, off-diagonals as they are
    np.testing.assert_allclose(scale.theta(u), theta, rtol=1e-14)

    # the chain rule against differences of a function of theta
    def f(t: np.ndarray) -> float:
        return float(np.sum(np.log1p(t**2)) + t[1] * t[2])

    u = scale.search(np.array([0.3, -0.7, 2.5]))
    t = scale.theta(u)
    grad = np.array([2 * t[0] / (1 + t[0] ** 2), 2 * t[1] / (1 + t[1] ** 2) + t[2], 0.0])
    grad[2] = 2 * t[2] / (1 + t[2] ** 2) + t[1]
    h = 1e-6
    numeric = [(f(scale.theta(u + h * e)) - f(scale.theta(u - h * e))) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(scale.gradient(u, grad), numeric, rtol=1e-7)
    # the Hessian carried to u and back, against differences of the gradient over u
    hessian = np.diag(2 * (1 - t**2) / (1 + t**2) ** 2) + np.array(
        [[0, 0, 0], [0, 0, 1.0], [0, 1.0, 0]]
    )

    def gradient(t: np.ndarray) -> tuple[float, np.ndarray]:
        return f(t), 2 * t / (1 + t**2) + np.array([0.0, t[2], t[1]])

    on_u = scale.over_search(gradient)
    numeric_u = np.column_stack(
        [(on_u(u + h * e)[1] - on_u(u - h * e)[1]) / (2 * h) for e in np.eye(3)]
    )
    carried = scale.search_hessian(u, hessian, grad)
    np.testing.assert_allclose(carried, numeric_u, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(scale.theta_hessian(u, carried, grad), hessian, atol=1e-12)
    # a diagonal the search left next to 0 goes to 0 unless the criterion rises there
    near = np.array([0.1 * AT_BOUND, -0.7, 2.5])
    assert scale.at_bound(near, f)[0] == 0.0
    assert scale.at_bound(near, lambda t: f(t) + (t[0] == 0.0))[0] == near[0]
