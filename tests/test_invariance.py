"""Numerical invariance (issue 17): rescaling the response or a predictor by 1e+-150,
shifting the response by 1e6, reordering the rows and relabelling the levels change a
fit only as the mathematics says (the criterion by its Jacobian term, the estimates by
the scale): criterion to 1e-9 relative, estimates to 1e-6."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm

FORMULA = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return mm.datasets.load("sleepstudy")


def _same(fit: mm.LmmResult, base: mm.LmmResult, objective_shift: float = 0.0) -> None:
    assert fit.objective - objective_shift == pytest.approx(base.objective, rel=1e-9)
    np.testing.assert_allclose(fit.theta, base.theta, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("k", [1e150, 1e-150])
def test_rescaled_response(sleep: pd.DataFrame, reml: bool, k: float) -> None:
    base = mm.lmm(FORMULA, sleep, reml=reml)
    fit = mm.lmm(FORMULA, sleep.assign(Reaction=sleep["Reaction"] * k), reml=reml)
    # -2 log L gains 2 log k per observation (REML: per residual degree of freedom)
    n_terms = base.nobs - (len(base.beta) if reml else 0)
    _same(fit, base, 2 * n_terms * np.log(k))
    np.testing.assert_allclose(fit.beta / k, base.beta, rtol=1e-6)
    np.testing.assert_allclose(fit.std_errors / k, base.std_errors, rtol=1e-6)
    assert fit.sigma / k == pytest.approx(base.sigma, rel=1e-6)


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("k", [1e150, 1e-150])
def test_rescaled_predictor(sleep: pd.DataFrame, reml: bool, k: float) -> None:
    """Days x k: the slope is divided by k; the random slope's theta is too, so the
    test is on the slope's SD; REML's log|X'V^-1 X| gains 2 log k."""
    base = mm.lmm(FORMULA, sleep, reml=reml)
    fit = mm.lmm(FORMULA, sleep.assign(Days=sleep["Days"] * k), reml=reml)
    shift = 2 * np.log(k) if reml else 0.0
    assert fit.objective - shift == pytest.approx(base.objective, rel=1e-9)
    assert fit.beta[1] * k == pytest.approx(base.beta[1], rel=1e-6)
    assert fit.beta[0] == pytest.approx(base.beta[0], rel=1e-6)
    assert fit.sigma == pytest.approx(base.sigma, rel=1e-6)
    sd = fit.varcorr["sd_cor"].to_numpy()
    sd_base = base.varcorr["sd_cor"].to_numpy()
    np.testing.assert_allclose(sd * [1, k, 1, 1], sd_base, rtol=1e-6)


@pytest.mark.parametrize("reml", [True, False])
def test_shift_order_and_labels(sleep: pd.DataFrame, reml: bool) -> None:
    base = mm.lmm(FORMULA, sleep, reml=reml)
    shifted = mm.lmm(FORMULA, sleep.assign(Reaction=sleep["Reaction"] + 1e6), reml=reml)
    _same(shifted, base)
    assert shifted.beta[0] - 1e6 == pytest.approx(base.beta[0], rel=1e-6)
    assert shifted.beta[1] == pytest.approx(base.beta[1], rel=1e-6)
    order = np.random.default_rng(1).permutation(len(sleep))
    shuffled = mm.lmm(FORMULA, sleep.iloc[order], reml=reml)
    _same(shuffled, base)
    np.testing.assert_allclose(shuffled.beta, base.beta, rtol=1e-6)
    relabelled = sleep.assign(Subject="z" + sleep["Subject"].astype(str))
    renamed = mm.lmm(FORMULA, relabelled, reml=reml)
    _same(renamed, base)
    np.testing.assert_allclose(renamed.beta, base.beta, rtol=1e-6)


def test_glmm_predictor_rescaled_rows_reordered() -> None:
    data = mm.datasets.load("cbpp").assign(t=lambda d: d["period"].cat.codes.astype(float))
    formula = "cbind(incidence, size - incidence) ~ t + (1 | herd)"
    base = mm.glmm(formula, data, family="binomial")
    for k in (1e150, 1e-150):
        fit = mm.glmm(formula, data.assign(t=data["t"] * k), family="binomial")
        assert fit.objective == pytest.approx(base.objective, rel=1e-9)
        assert fit.beta[1] * k == pytest.approx(base.beta[1], rel=1e-6)
        np.testing.assert_allclose(fit.theta, base.theta, rtol=1e-6)
    order = np.random.default_rng(2).permutation(len(data))
    shuffled = mm.glmm(formula, data.iloc[order], family="binomial")
    assert shuffled.objective == pytest.approx(base.objective, rel=1e-9)
    np.testing.assert_allclose(shuffled.beta, base.beta, rtol=1e-6)
