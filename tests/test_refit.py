"""refit(y): the fit mm.lmm gives on the data with that response, from the response's
blocks alone; bad responses are refused with a message."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.core.newton import QUASI_NEWTON_LAST_STEP
from mixedmodels.core.optimize import LAST_STEP_NOTE

FORMULA = "Reaction ~ Days + (Days | Subject)"


def _close(a: object, b: object) -> float:
    """Largest relative difference."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-12)))


def _full_fit(formula: str, data: pd.DataFrame, **kwargs: object) -> mm.LmmResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mm.lmm(formula, data, **kwargs)  # type: ignore[arg-type]


def _assert_same_fit(refit: mm.LmmResult, full: mm.LmmResult) -> None:
    assert _close(refit.objective, full.objective) <= 1e-8
    assert _close(refit.theta, full.theta) <= 1e-8
    assert _close(refit.beta, full.beta) <= 1e-8
    assert _close(refit.sigma, full.sigma) <= 1e-8
    assert refit.is_singular == full.is_singular
    np.testing.assert_allclose(refit.fitted, full.fitted, rtol=1e-8)
    np.testing.assert_allclose(refit.residuals(), full.residuals(), rtol=1e-7, atol=1e-9)
    pd.testing.assert_frame_equal(refit.varcorr, full.varcorr, rtol=1e-7)


@pytest.mark.parametrize("reml", [True, False])
def test_refit_is_the_full_fit_of_the_new_response(reml: bool) -> None:
    data = mm.datasets.load("sleepstudy")
    fit = mm.lmm(FORMULA, data, reml=reml)
    sims = fit.simulate(6, seed=3)
    for j in range(sims.shape[1]):
        refit = fit.refit(sims[:, j])
        full = _full_fit(FORMULA, data.assign(Reaction=sims[:, j]), reml=reml)
        _assert_same_fit(refit, full)
        assert refit.reml is reml
        # a refit of a refit reuses the same design
        _assert_same_fit(refit.refit(data["Reaction"].to_numpy()), fit)


@pytest.mark.parametrize("reml", [True, False])
def test_refit_with_weights_and_offset(reml: bool) -> None:
    data = mm.datasets.load("sleepstudy").copy()
    rng = np.random.default_rng(5)
    data["w"] = rng.uniform(0.5, 2.0, len(data))
    data["off"] = rng.normal(0, 5, len(data))
    fit = mm.lmm(FORMULA, data, reml=reml, weights="w", offset="off")
    sims = fit.simulate(4, seed=8)
    for j in range(sims.shape[1]):
        refit = fit.refit(sims[:, j])
        full = _full_fit(
            FORMULA, data.assign(Reaction=sims[:, j]), reml=reml, weights="w", offset="off"
        )
        _assert_same_fit(refit, full)


def test_refit_without_intercept_and_with_two_factors() -> None:
    data = mm.datasets.load("sleepstudy").copy()
    data["half"] = (data["Days"] >= 5).astype(str)
    formula = "Reaction ~ 0 + Days + (1 | Subject) + (1 | half)"
    fit = _full_fit(formula, data)
    y = fit.simulate(1, seed=2)[:, 0]
    _assert_same_fit(fit.refit(y), _full_fit(formula, data.assign(Reaction=y)))


def test_refit_after_dropped_rows_takes_the_rows_used() -> None:
    data = mm.datasets.load("sleepstudy").copy()
    data.loc[[3, 50, 120], "Reaction"] = np.nan
    fit = _full_fit(FORMULA, data)
    assert fit.nobs == 177
    y = fit.simulate(1, seed=4)[:, 0]
    full_data = data.copy()
    full_data.loc[fit.fitted.dropna().index, "Reaction"] = y
    refit = fit.refit(y)
    _assert_same_fit(refit, _full_fit(FORMULA, full_data))
    assert refit.fitted.isna().sum() == 3
    with pytest.raises(mm.DataError, match="177 responses.*3 input rows were dropped"):
        fit.refit(np.zeros(180))


def test_refit_reuses_the_design_blocks() -> None:
    fit = mm.lmm(FORMULA, mm.datasets.load("sleepstudy"))
    refit = fit.refit(fit.simulate(1, seed=1)[:, 0])
    old, new = fit.model.products, refit.model.products
    assert new.zz0 is old.zz0  # Z'WZ is the fit's own
    np.testing.assert_array_equal(new.bz0[:, :, :-1], old.bz0[:, :, :-1])  # Z'WX
    np.testing.assert_array_equal(new.bb[:-1, :-1], old.bb[:-1, :-1])  # X'WX
    assert not np.array_equal(new.bb[-1], old.bb[-1])  # y'W[X y] is new


@pytest.mark.parametrize(
    ("y", "error", "message"),
    [
        (np.zeros(5), mm.DataError, "180 responses"),
        (np.zeros((180, 2)), mm.DataError, r"180 responses.*\(180, 2\)"),
        (np.full(180, np.nan), mm.DataError, "180 missing or infinite"),
        (np.r_[np.zeros(179), np.inf], mm.DataError, "first at position 179"),
        (np.array(["a"] * 180), mm.DataError, "numeric response"),
        (np.array([1.0] * 179 + ["x"], dtype=object), mm.DataError, "not all numbers"),
        ([1.0] * 179 + ["x"], mm.DataError, "numeric response"),
        (np.zeros(180, dtype=complex), mm.DataError, "numeric response"),
    ],
)
def test_refit_refuses_bad_responses(y: object, error: type, message: str) -> None:
    fit = mm.lmm(FORMULA, mm.datasets.load("sleepstudy"))
    with pytest.raises(error, match=message):
        fit.refit(y)


def test_refit_accepts_a_series_and_integers() -> None:
    data = mm.datasets.load("sleepstudy")
    fit = mm.lmm(FORMULA, data)
    rounded = data["Reaction"].round().astype(int)
    _assert_same_fit(fit.refit(rounded), _full_fit(FORMULA, data.assign(Reaction=rounded)))


def test_optinfo_says_how_the_optimum_was_checked() -> None:
    data = mm.datasets.load("sleepstudy")
    fit = mm.lmm(FORMULA, data)
    # Newton steps from the moment estimate: the Hessian differenced there, then updated
    assert (
        fit.optinfo.check == "analytic gradient, Hessian differenced at the start with BFGS updates"
    )
    assert fit.optinfo.scaled_gradient is not None and fit.optinfo.scaled_gradient < 1e-6
    # from lme4's start, L-BFGS-B and a Hessian differenced at the optimum
    given = mm.lmm(FORMULA, data, start=[1.0, 0.0, 1.0])
    assert given.optinfo.check == "analytic gradient, Hessian from its forward differences"
    assert given.optinfo.scaled_gradient is not None and given.optinfo.scaled_gradient < 1e-6
    unchecked = mm.lmm(FORMULA, data, settings=mm.OptimizerSettings(check_convergence=False))
    assert unchecked.optinfo.check is None and unchecked.optinfo.scaled_gradient is None
    # the refit keeps the fit's settings
    assert unchecked.refit(data["Reaction"].to_numpy()).optinfo.check is None
    # on the boundary (a variance at zero) the gradient is differenced over the other
    # coordinates
    crossed = _full_fit("Reaction ~ Days + (1 | Subject) + (1 | Days)", data)
    assert crossed.is_singular
    assert crossed.optinfo.check == (
        "analytic gradient, Hessian from its forward differences over the free coordinates"
    )


def test_refit_takes_newton_steps_from_the_fits_hessian() -> None:
    data = mm.datasets.load("sleepstudy")
    fit = mm.lmm(FORMULA, data)
    assert fit.optinfo.hessian is not None
    assert np.all(np.linalg.eigvalsh(fit.optinfo.hessian) > 0)
    sims = fit.simulate(10, seed=11)
    refits = [fit.refit(sims[:, j]) for j in range(sims.shape[1])]
    newton = [r for r in refits if r.optinfo.optimizer.startswith("Newton steps")]
    assert len(newton) >= 8
    updated = "analytic gradient, Hessian from the previous fit's with BFGS updates"
    for refit in newton:
        assert refit.optinfo.converged
        scaled = refit.optinfo.scaled_gradient
        assert scaled is not None
        if refit.optinfo.check == updated:  # the gradient at the optimum
            assert scaled < 1e-8
        else:  # read one step before it: the step is short, and it was converging fast
            assert refit.optinfo.check == updated + LAST_STEP_NOTE
            assert scaled < QUASI_NEWTON_LAST_STEP
    fresh = [_full_fit(FORMULA, data.assign(Reaction=sims[:, j])) for j in range(sims.shape[1])]
    # both start from the moment estimate, a fresh fit with its average information as
    # the first Hessian: the previous fit's does as well (8.3 evaluations each here)
    assert np.mean([r.optinfo.n_evaluations for r in newton]) <= np.mean(
        [f.optinfo.n_evaluations for f in fresh]
    )


def test_refit_of_a_boundary_fit_runs_the_general_optimizer() -> None:
    data = mm.datasets.load("Dyestuff2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = mm.lmm("Yield ~ 1 + (1 | Batch)", data)
        assert fit.is_singular and fit.optinfo.hessian is None
        refit = fit.refit(data["Yield"].to_numpy() * 1.5)
    assert refit.optinfo.optimizer.startswith("L-BFGS-B")
    assert refit.is_singular
