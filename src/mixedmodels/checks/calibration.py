"""A calibrated p-value for the uniformity test of simulated quantile residuals, by
parametric bootstrap of the whole procedure.

The residuals of the observed data are simulated with new random effects, so those of one
group share the group's realised effect and are not independent, which makes the
Kolmogorov-Smirnov test's own p-value too small; and the model was fitted to the same
data, which makes it too large. Which wins depends on the design. Neither matters here:
for each
replicate ``b`` a response ``y_b`` is simulated from the fitted model, the model is refitted
to it, and the residuals of ``y_b`` under that refit are simulated exactly as the observed
data's were (same number of simulations, same steps), giving the KS distance ``D_b``. The
observed distance ``D`` is then ranked among them, ``p = (1 + #{D_b >= D}) / (B + 1)``,
which is calibrated up to the error of the parametric bootstrap (the fitted parameters
standing in for the true ones).

Replicate ``b`` draws from its own generator spawned from one ``numpy.random.SeedSequence``,
so a seed gives the same p-value whatever the number of worker processes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy

from mixedmodels._replicates import progress_bar, run_replicates
from mixedmodels.errors import ModelSpecError

__all__ = ["Calibration", "calibrate_uniformity", "ks_distance"]


def ks_distance(residuals: np.ndarray) -> float:
    """The Kolmogorov-Smirnov distance of the residuals from U(0, 1)."""
    return float(scipy.stats.kstest(residuals, "uniform").statistic)


@dataclass(frozen=True)
class Calibration:
    """The bootstrap distances and the calibrated p-value.

    Attributes
    ----------
    p_value : float
        ``(1 + #{D_b >= D}) / (B + 1)`` over the ``B`` replicates whose refit succeeded.
    distances : numpy.ndarray
        ``(n_boot,)``: each replicate's KS distance, NaN where its refit failed.
    failures : tuple of str
        The errors of the failed replicates, in replicate order.
    """

    p_value: float
    distances: np.ndarray
    failures: tuple[str, ...]

    @property
    def n_used(self) -> int:
        """Replicates whose refit succeeded."""
        return int(np.sum(np.isfinite(self.distances)))


def _replicate(shared: tuple[Any, int], seq: np.random.SeedSequence) -> tuple[float, str]:
    """One replicate's KS distance (NaN and the error, if its refit or residuals fail)."""
    from mixedmodels.checks.residuals import simulated_residuals

    fit, n = shared
    rng = np.random.default_rng(seq)
    y = np.asarray(fit.simulate(1, seed=rng), dtype=np.float64)[:, 0]
    with warnings.catch_warnings():
        # a replicate's boundary fits and convergence notes belong to the null distribution
        warnings.simplefilter("ignore")
        try:
            refit = fit.refit(y)
            residuals = simulated_residuals(refit, n, rng).residuals
        except Exception as error:  # every failure is counted and reported, not raised
            return float("nan"), f"{type(error).__name__}: {error}"
    return ks_distance(residuals), ""


def calibrate_uniformity(
    fit: Any,
    observed: float,
    n: int,
    n_boot: int,
    seed: int | np.random.SeedSequence | None = None,
    n_jobs: int = 1,
    progress: bool = True,
) -> Calibration:
    """The parametric-bootstrap p-value of the KS distance ``observed``.

    Parameters
    ----------
    fit : LmmResult, StructuredLmmResult or GlmmResult
        The fit whose simulated residuals gave ``observed``; it must be able to
        ``simulate`` and ``refit``.
    observed : float
        The KS distance of the data's simulated residuals.
    n : int
        The number of simulations those residuals used (each replicate uses as many).
    n_boot : int
        Replicates (refits); 19 gives p-values in steps of 0.05, 99 or more for a
        p-value to report.
    seed : int or SeedSequence, optional
        The replicates' randomness; the same seed gives the same p-value for any
        ``n_jobs``.
    n_jobs : int
        Worker processes (-1: one per core).
    progress : bool
        Show a progress bar.

    Raises
    ------
    ModelSpecError
        If the fit cannot be refitted, or if every replicate's refit failed.
    """
    if not isinstance(n_boot, (int, np.integer)) or isinstance(n_boot, bool) or n_boot < 1:
        raise ModelSpecError(f"n_boot must be a positive whole number of refits, not {n_boot!r}")
    if not (hasattr(fit, "refit") and hasattr(fit, "simulate")):
        raise ModelSpecError(
            f"a {type(fit).__name__} cannot be refitted, so its uniformity test cannot be "
            "calibrated (use n_boot=0)"
        )
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    seqs = root.spawn(int(n_boot))
    bar = progress_bar(int(n_boot), progress, "uniformity", "refit")
    try:
        rows = run_replicates(_replicate, (fit, int(n)), seqs, n_jobs=n_jobs, bar=bar)
    finally:
        if bar is not None:
            bar.close()
    distances = np.array([d for d, _ in rows], dtype=np.float64)
    failures = tuple(message for _, message in rows if message)
    used = distances[np.isfinite(distances)]
    if used.size == 0:
        raise ModelSpecError(
            f"all {n_boot} refits to simulated responses failed, the first with {failures[0]}"
        )
    p = (1.0 + float(np.sum(used >= observed))) / (used.size + 1.0)
    distances.setflags(write=False)
    return Calibration(p, distances, failures)
