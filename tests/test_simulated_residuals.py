"""Simulated quantile residuals and their tests, by simulation studies: on data simulated
from a fitted model the uniformity test's p-values are uniform and the dispersion test keeps
its level; on overdispersed or zero-inflated counts the dispersion and zero-inflation tests
reject at the rates written here (docs/model_checks.md gives the figures)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm

matplotlib.use("Agg")


def _counts(rng: np.random.Generator, kind: str, groups: int = 30, per: int = 10) -> pd.DataFrame:
    g = np.repeat(np.arange(groups), per)
    x = rng.normal(size=groups * per)
    eta = 0.5 + 0.3 * x + rng.normal(0.0, 0.5, groups)[g]
    mu = np.exp(eta)
    if kind == "overdispersed":  # negative binomial, size 1.5
        y = rng.negative_binomial(1.5, 1.5 / (1.5 + mu))
    else:
        y = rng.poisson(mu)
        if kind == "zero-inflated":
            y = np.where(rng.uniform(size=y.size) < 0.3, 0, y)
    return pd.DataFrame({"y": y, "x": x, "g": g.astype(str)})


FORMULA = "y ~ x + (1 | g)"


def test_the_tests_keep_their_level_on_data_from_the_fitted_model() -> None:
    """60 responses simulated from a fitted Poisson GLMM, each refitted and checked: the
    uniformity and dispersion tests reject at no more than their level. After a refit the
    uniformity p-values are conservative (skewed towards 1, as any goodness-of-fit test with
    estimated parameters), so they are not uniform: docs/model_checks.md."""
    rng = np.random.default_rng(11)
    fit = mm.glmm(FORMULA, _counts(rng, "poisson"), family="poisson")
    responses = fit.simulate(n=60, seed=12)
    uniform, dispersion = [], []
    for j in range(responses.shape[1]):
        refit = fit.refit(responses[:, j])
        checks = refit.simulated_residuals(n=250, seed=100 + j)
        uniform.append(checks.uniformity().p_value)
        dispersion.append(checks.dispersion().p_value)
    assert np.mean(np.array(uniform) < 0.05) <= 0.15
    assert np.median(uniform) >= 0.4  # conservative, not anti-conservative
    assert np.mean(np.array(dispersion) < 0.05) <= 0.15


def test_overdispersion_is_detected() -> None:
    rng = np.random.default_rng(21)
    rejected = []
    for j in range(20):
        fit = mm.glmm(FORMULA, _counts(rng, "overdispersed"), family="poisson")
        check = fit.simulated_residuals(n=250, seed=j).dispersion()
        assert check.statistic > 1.0 or check.p_value > 0.05
        rejected.append(check.p_value < 0.05)
    # negative binomial counts (size 1.5) fitted as Poisson: 10 of 20 data sets rejected here
    assert np.mean(rejected) >= 0.35


def test_excess_zeros_are_detected() -> None:
    rng = np.random.default_rng(31)
    rejected = []
    for j in range(20):
        fit = mm.glmm(FORMULA, _counts(rng, "zero-inflated"), family="poisson")
        check = fit.simulated_residuals(n=250, seed=j).zero_inflation(alternative="greater")
        rejected.append(check.p_value < 0.05)
    # 30 % structural zeros at a mean count near 1.6: the simulation study here rejects in
    # 10 of 20 data sets; the Poisson fit absorbs part of the excess in its intercept
    assert np.mean(rejected) >= 0.35


def test_residuals_are_the_randomized_pit() -> None:
    """Each residual lies between the share of simulations below the observation and the
    share at or below it, and a continuous response's is the share below."""
    cbpp = mm.datasets.load("cbpp")
    fit = mm.glmm(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial"
    )
    checks = fit.simulated_residuals(n=200, seed=4)
    below = np.mean(checks.simulated < checks.observed[:, None], axis=1)
    at_or_below = np.mean(checks.simulated <= checks.observed[:, None], axis=1)
    assert np.all(below <= checks.residuals) and np.all(checks.residuals <= at_or_below)
    lmm = mm.lmm("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    continuous = lmm.simulated_residuals(n=100, seed=5)
    share = np.mean(continuous.simulated < continuous.observed[:, None], axis=1)
    np.testing.assert_array_equal(continuous.residuals, share)
    assert continuous.tests().shape == (4, 2)


def test_the_same_seed_gives_the_same_residuals() -> None:
    lmm = mm.lmm("Reaction ~ Days + (1 | Subject)", mm.datasets.load("sleepstudy"))
    a = lmm.simulated_residuals(n=50, seed=9).residuals
    b = lmm.simulated_residuals(n=50, seed=9).residuals
    np.testing.assert_array_equal(a, b)


def test_the_figure_has_both_panels() -> None:
    lmm = mm.lmm("Reaction ~ Days + (1 | Subject)", mm.datasets.load("sleepstudy"))
    qq, spread = lmm.simulated_residuals(n=50, seed=1).plot()
    assert "QQ" in qq.get_title() and "dispersion" in spread.get_title()
    assert len(qq.collections[0].get_offsets()) == lmm.nobs


def test_bad_arguments() -> None:
    lmm = mm.lmm("Reaction ~ Days + (1 | Subject)", mm.datasets.load("sleepstudy"))
    with pytest.raises(mm.ModelSpecError, match="at least 10"):
        lmm.simulated_residuals(n=3)
    with pytest.raises(ValueError, match="alternative"):
        lmm.simulated_residuals(n=20, seed=1).dispersion(alternative="bigger")
