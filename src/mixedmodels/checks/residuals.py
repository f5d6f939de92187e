"""Simulated quantile residuals: each observation's place among responses simulated from the
fitted model (the probability integral transform by simulation; Dunn & Smyth 1996 for the
randomized form, Hartig's DHARMa for its use with mixed models, whose method this follows
from its paper and documentation).

For observation ``i`` with ``n`` simulated values ``s_i1 .. s_in`` the residual is
``r_i = #{s < y_i} / n + U #{s = y_i} / n`` with ``U`` uniform on (0, 1), so that ties of
discrete responses are broken at random. If the model is right, the ``r_i`` are uniform on
(0, 1) whatever the family, and so deviations from uniformity, over- or underdispersion,
excess zeros and outliers show on one scale. The simulations draw new random effects (the
model's unconditional distribution), as DHARMa's default does for lme4 fits.

The tests:

- uniformity: Kolmogorov-Smirnov against U(0, 1). Its own p-value is not uniform on data
  from the model (the residuals of a group share its realised random effect, and the fit
  has adapted to the data); with ``n_boot`` refits it is calibrated by parametric bootstrap
  (:mod:`mixedmodels.checks.calibration`);
- dispersion: the variance of ``y - m`` (``m`` the simulations' mean) against the variances
  of ``s_j - m`` of each simulation; the ratio and a two-sided simulation p-value;
- zero inflation: the number of zeros against the simulations' numbers, the same way;
- outliers: how many observations lie outside every simulated value, against the
  binomial count with probability ``2 / (n + 1)`` each.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy

from mixedmodels.errors import ModelSpecError

__all__ = ["CheckResult", "SimulatedResiduals", "simulated_residuals"]


@dataclass(frozen=True)
class CheckResult:
    """One test of the residuals: its name, statistic (a ratio of observed to simulated,
    or the KS distance, or the outlier count), p-value and the alternative it was tested
    against; for a p-value calibrated by refits, how many refits it used and how many
    failed (both 0 otherwise)."""

    test: str
    statistic: float
    p_value: float
    alternative: str = "two-sided"
    refits: int = 0
    failed_refits: int = 0


def _simulation_p(observed: float, simulated: np.ndarray, alternative: str) -> float:
    greater = float(np.mean(simulated >= observed))
    less = float(np.mean(simulated <= observed))
    if alternative == "greater":
        return greater
    if alternative == "less":
        return less
    return min(1.0, 2.0 * min(greater, less))


def _check_alternative(alternative: str) -> str:
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(
            f"alternative must be 'two-sided', 'greater' or 'less', not {alternative!r}"
        )
    return alternative


@dataclass(frozen=True, eq=False)
class SimulatedResiduals:
    """The simulated quantile residuals of a fit (:func:`simulated_residuals`).

    Attributes
    ----------
    residuals : numpy.ndarray
        ``(nobs,)``, on (0, 1): uniform if the model is right.
    observed : numpy.ndarray
        The response of the rows used (a binomial's as proportions).
    simulated : numpy.ndarray
        ``(nobs, n)``: the simulated responses.
    expected : numpy.ndarray
        The simulations' mean per row (the predicted value of the residual plot).
    fit : LmmResult or GlmmResult, optional
        The fit they came from (refitted by a calibrated uniformity test).
    """

    residuals: np.ndarray
    observed: np.ndarray
    simulated: np.ndarray
    expected: np.ndarray
    fit: Any = field(default=None, repr=False)

    @property
    def n_simulations(self) -> int:
        return int(self.simulated.shape[1])

    def uniformity(
        self,
        n_boot: int = 0,
        seed: int | np.random.SeedSequence | None = None,
        n_jobs: int = 1,
        progress: bool = True,
    ) -> CheckResult:
        """Kolmogorov-Smirnov test of the residuals against U(0, 1).

        The statistic is the KS distance ``D``. With ``n_boot=0`` the p-value is the KS
        test's own, which is not uniform on data from the model: too small when the
        residuals of a group share a large random effect, too large when the fit has
        pulled them towards uniform (docs/model_checks.md). With ``n_boot=B`` it is
        calibrated by parametric bootstrap: ``B`` responses simulated from the fit, each
        refitted and its residuals simulated as these were,
        ``p = (1 + #{D_b >= D}) / (B + 1)``
        (:func:`mixedmodels.checks.calibration.calibrate_uniformity`). The test's name
        says which.

        Parameters
        ----------
        n_boot : int
            Refits for the calibrated p-value (0: the KS test's own). 99 or more for a
            p-value to report; a refit that fails is left out, counted in
            ``failed_refits`` and warned of.
        seed : int or SeedSequence, optional
            The refits' randomness; the same seed gives the same p-value for any
            ``n_jobs``.
        n_jobs : int
            Worker processes for the refits (-1: one per core).
        progress : bool
            Show a progress bar of the refits.

        Raises
        ------
        ModelSpecError
            With ``n_boot > 0``, if the residuals do not hold a fit that can be refitted,
            or if every refit failed.
        """
        result = scipy.stats.kstest(self.residuals, "uniform")
        distance = float(result.statistic)
        if n_boot == 0:
            return CheckResult("uniformity (KS)", distance, float(result.pvalue))
        from mixedmodels.checks.calibration import calibrate_uniformity

        if self.fit is None:
            raise ModelSpecError(
                "these residuals do not hold the fit they came from, so the uniformity test "
                "cannot be calibrated (use n_boot=0)"
            )
        calibration = calibrate_uniformity(
            self.fit, distance, self.n_simulations, n_boot, seed, n_jobs, progress
        )
        failed = len(calibration.failures)
        name = f"uniformity (KS, calibrated by {calibration.n_used} refits)"
        if failed:
            name = f"uniformity (KS, calibrated by {calibration.n_used} refits, {failed} failed)"
            warnings.warn(
                f"{failed} of {n_boot} refits to simulated responses failed and were left "
                f"out of the calibrated uniformity test; the first: {calibration.failures[0]}",
                UserWarning,
                stacklevel=2,
            )
        return CheckResult(
            name,
            distance,
            calibration.p_value,
            refits=calibration.n_used,
            failed_refits=failed,
        )

    def dispersion(self, alternative: str = "two-sided") -> CheckResult:
        """Observed against simulated variance around the simulations' mean: a ratio
        above 1 is overdispersion."""
        _check_alternative(alternative)
        m = self.expected
        observed = float(np.var(self.observed - m))
        simulated = np.var(self.simulated - m[:, None], axis=0)
        ratio = observed / float(np.mean(simulated)) if np.mean(simulated) > 0 else np.inf
        return CheckResult(
            "dispersion", ratio, _simulation_p(observed, simulated, alternative), alternative
        )

    def zero_inflation(self, alternative: str = "two-sided") -> CheckResult:
        """Observed against simulated number of zeros: a ratio above 1 is excess zeros."""
        _check_alternative(alternative)
        observed = float(np.sum(self.observed == 0))
        simulated = np.sum(self.simulated == 0, axis=0).astype(np.float64)
        mean = float(np.mean(simulated))
        ratio = observed / mean if mean > 0 else (np.inf if observed > 0 else 1.0)
        return CheckResult(
            "zero inflation", ratio, _simulation_p(observed, simulated, alternative), alternative
        )

    def outliers(self) -> CheckResult:
        """Observations outside every simulated value, against Binomial(nobs, 2/(n+1))."""
        outside = (self.observed < self.simulated.min(axis=1)) | (
            self.observed > self.simulated.max(axis=1)
        )
        count = int(np.sum(outside))
        p = 2.0 / (self.n_simulations + 1.0)
        test = scipy.stats.binomtest(count, self.residuals.size, p)
        return CheckResult("outliers", float(count), float(test.pvalue))

    def tests(
        self,
        n_boot: int = 0,
        seed: int | np.random.SeedSequence | None = None,
        n_jobs: int = 1,
        progress: bool = True,
    ) -> pd.DataFrame:
        """The four tests, one row each: ``statistic, p_value``; ``n_boot``, ``seed``,
        ``n_jobs`` and ``progress`` go to :meth:`uniformity` (``n_boot > 0`` calibrates
        its p-value by refits)."""
        rows = [
            self.uniformity(n_boot, seed, n_jobs, progress),
            self.dispersion(),
            self.zero_inflation(),
            self.outliers(),
        ]
        return pd.DataFrame(
            {"statistic": [r.statistic for r in rows], "p_value": [r.p_value for r in rows]},
            index=pd.Index([r.test for r in rows], name="test"),
        )

    def plot(self, axes: Any = None) -> Any:
        """The QQ plot against U(0, 1) and the residuals against the predicted value's
        rank (``mixedmodels.plot.simulated_residuals``); returns the two Axes."""
        from mixedmodels.plot.checks import simulated_residuals as draw

        return draw(self, axes)


def simulated_residuals(
    fit: Any, n: int = 250, seed: int | np.random.Generator | None = None
) -> SimulatedResiduals:
    """Simulated quantile residuals of a fitted LMM or GLMM.

    Parameters
    ----------
    fit : LmmResult or GlmmResult
    n : int
        Simulations (DHARMa's default 250; more for a smoother QQ plot).
    seed : int or Generator
        The simulations' and the tie-breaking's randomness.
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 10:
        raise ModelSpecError(f"n must be a whole number of simulations, at least 10, not {n!r}")
    if not hasattr(fit, "simulate"):
        raise ModelSpecError(f"a {type(fit).__name__} cannot simulate responses to compare with")
    rng = np.random.default_rng(seed)
    simulated = np.asarray(fit.simulate(n=int(n), seed=rng, re="new"), dtype=np.float64)
    model = getattr(fit, "_model", None)
    frame = model.frame if model is not None else fit._frame
    observed = np.asarray(frame.y, dtype=np.float64)
    below = np.sum(simulated < observed[:, None], axis=1)
    equal = np.sum(simulated == observed[:, None], axis=1)
    u = rng.uniform(size=observed.size)
    residuals = (below + u * equal) / simulated.shape[1]
    for name, value in (("residuals", residuals), ("observed", observed)):
        if not np.all(np.isfinite(value)):
            raise ModelSpecError(f"the simulated {name} are not finite")
    out = SimulatedResiduals(
        residuals=residuals,
        observed=observed,
        simulated=simulated,
        expected=simulated.mean(axis=1),
        fit=fit,
    )
    for array in (out.residuals, out.observed, out.simulated, out.expected):
        array.setflags(write=False)
    return out
