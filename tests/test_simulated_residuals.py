"""Simulated quantile residuals and their tests, by simulation studies: on data simulated
from a known model the calibrated uniformity test's p-values are uniform (the KS test's own
are not) and the dispersion test keeps its level; on overdispersed or zero-inflated counts
the dispersion and zero-inflation tests reject at the rates written here
(docs/model_checks.md gives the figures)."""

from __future__ import annotations

import dataclasses
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import mixedmodels as mm
from mixedmodels.checks.calibration import calibrate_uniformity
from mixedmodels.glmm.pirls import PirlsError
from tiers import full_tier

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


def _clustered(rng: np.random.Generator, groups: int, per: int, sd: float) -> pd.DataFrame:
    """``y = 1 + 0.5 x + u_g + e`` with ``u_g ~ N(0, sd^2)`` and ``e ~ N(0, 1)``."""
    g = np.repeat(np.arange(groups), per)
    x = rng.normal(size=g.size)
    y = 1.0 + 0.5 * x + rng.normal(0.0, sd, groups)[g] + rng.normal(size=g.size)
    return pd.DataFrame({"y": y, "x": x, "g": g.astype(str)})


@full_tier
def test_calibrated_uniformity_p_values_are_uniform_on_data_from_the_model() -> None:
    """150 data sets from a known LMM (10 groups of 30, ICC 0.8), each fitted, its
    residuals simulated (n = 100) and its uniformity p-value calibrated by 39 refits.

    The calibrated p-values lie on the grid k / 40; spread uniformly within their step
    (``p - U / 40``) they are U(0, 1) if the test is calibrated, and P(p <= 0.05) is 0.05.
    The KS test's own p-values of the same residuals are far from uniform (too small:
    the residuals of a group share its random effect). docs/model_checks.md has the
    figures."""
    m, b = 150, 39
    rng = np.random.default_rng(2024)
    calibrated, plain = [], []
    for j in range(m):
        fit = mm.lmm("y ~ x + (1 | g)", _clustered(rng, 10, 30, 2.0))
        checks = fit.simulated_residuals(n=100, seed=j)
        plain.append(checks.uniformity().p_value)
        test = checks.uniformity(n_boot=b, seed=1000 + j, progress=False)
        assert test.refits == b and test.failed_refits == 0
        calibrated.append(test.p_value)
    p, q = np.array(calibrated), np.array(plain)
    np.testing.assert_allclose(p * (b + 1), np.round(p * (b + 1)))  # on the grid k / (B + 1)
    spread = p - rng.uniform(size=m) / (b + 1)
    assert stats.kstest(spread, "uniform").pvalue > 0.001
    se = np.sqrt(0.05 * 0.95 / m)
    assert np.mean(p <= 0.05) < 0.05 + 3.5 * se
    # the same checks on the uncalibrated p-values fail
    assert stats.kstest(q, "uniform").pvalue < 0.001
    assert np.mean(q <= 0.05) > 0.05 + 3.5 * se


def _overdispersed_fit() -> Any:
    rng = np.random.default_rng(41)
    g = np.repeat(np.arange(30), 10)
    x = rng.normal(size=g.size)
    mu = np.exp(0.5 + 0.3 * x + rng.normal(0.0, 0.5, 30)[g])
    y = rng.negative_binomial(0.5, 0.5 / (0.5 + mu))  # size 0.5: variance mu + 2 mu^2
    data = pd.DataFrame({"y": y, "x": x, "g": g.astype(str)})
    return mm.glmm(FORMULA, data, family="poisson")


def test_a_misspecified_model_gets_a_small_calibrated_p_value() -> None:
    """Poisson fitted to negative binomial counts: none of 39 refitted data sets from the
    Poisson fit is as far from uniform, and 2 worker processes give the same refits."""
    checks = _overdispersed_fit().simulated_residuals(n=100, seed=3)
    serial = checks.uniformity(n_boot=39, seed=8, progress=False)
    assert serial.p_value == pytest.approx(1 / 40)
    assert serial.test == "uniformity (KS, calibrated by 39 refits)"
    assert serial.statistic == checks.uniformity().statistic
    parallel = checks.uniformity(n_boot=39, seed=8, n_jobs=2, progress=False)
    assert parallel == serial
    table = checks.tests(n_boot=39, seed=8, progress=False)
    assert table.loc[serial.test, "p_value"] == serial.p_value


def test_the_same_seed_gives_the_same_refits_for_any_n_jobs() -> None:
    fit = mm.lmm("y ~ x + (1 | g)", _clustered(np.random.default_rng(5), 10, 30, 2.0))
    checks = fit.simulated_residuals(n=100, seed=6)
    observed = checks.uniformity().statistic
    serial = calibrate_uniformity(fit, observed, 100, 39, seed=1, progress=False)
    parallel = calibrate_uniformity(fit, observed, 100, 39, seed=1, n_jobs=2, progress=False)
    np.testing.assert_array_equal(serial.distances, parallel.distances)
    assert serial.p_value == parallel.p_value
    other = calibrate_uniformity(fit, observed, 100, 39, seed=2, progress=False)
    assert not np.any(other.distances == serial.distances)
    assert serial.p_value == (1 + np.sum(serial.distances >= observed)) / 40


class _Flaky:
    """A fit whose refits fail when the simulated response's first value is above the
    fitted one's (about half the time), or always."""

    def __init__(self, fit: Any, always: bool = False) -> None:
        self.fit, self.always = fit, always

    def simulate(self, n: int = 1, seed: Any = None) -> np.ndarray:
        return np.asarray(self.fit.simulate(n, seed=seed))

    def refit(self, y: np.ndarray) -> Any:
        if self.always or y[0] > self.fit.fitted.iloc[0]:
            raise PirlsError("PIRLS did not converge")
        return self.fit.refit(y)


def test_failed_refits_are_counted_and_reported() -> None:
    fit = mm.lmm("Reaction ~ Days + (1 | Subject)", mm.datasets.load("sleepstudy"))
    checks = fit.simulated_residuals(n=50, seed=2)
    flaky = dataclasses.replace(checks, fit=_Flaky(fit))
    with pytest.warns(UserWarning, match="refits to simulated responses failed") as record:
        test = flaky.uniformity(n_boot=30, seed=4, progress=False)
    assert "PirlsError: PIRLS did not converge" in str(record[0].message)
    assert 0 < test.failed_refits < 30 and test.refits + test.failed_refits == 30
    assert test.test == f"uniformity (KS, calibrated by {test.refits} refits, " + (
        f"{test.failed_refits} failed)"
    )
    assert test.p_value * (test.refits + 1) == pytest.approx(
        round(test.p_value * (test.refits + 1))
    )
    broken = dataclasses.replace(checks, fit=_Flaky(fit, always=True))
    with pytest.raises(mm.ModelSpecError, match="all 10 refits .* failed, the first with Pirls"):
        broken.uniformity(n_boot=10, seed=4, progress=False)


def test_the_residuals_keep_their_fit_and_stay_frozen() -> None:
    fit = mm.lmm("Reaction ~ Days + (1 | Subject)", mm.datasets.load("sleepstudy"))
    checks = fit.simulated_residuals(n=50, seed=2)
    assert checks.fit is fit
    assert checks.uniformity().test == "uniformity (KS)"
    assert checks.uniformity().refits == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        checks.fit = None  # type: ignore[misc]
    orphan = dataclasses.replace(checks, fit=None)
    with pytest.raises(mm.ModelSpecError, match="do not hold the fit"):
        orphan.uniformity(n_boot=10)
    for bad in (-1, 2.5, True):
        with pytest.raises(mm.ModelSpecError, match="n_boot"):
            checks.uniformity(n_boot=bad, progress=False)  # type: ignore[arg-type]
