"""Parametric bootstrap of a linear or generalized linear mixed model (lme4's ``bootMer``).

Each replicate simulates a response from the fitted model (new random effects and new
residuals, or new draws from the GLMM's family) and refits the model to it. Replicate
``i`` draws from its own generator, spawned from one ``numpy.random.SeedSequence``, so a
seed gives the same replicates whatever the number of worker processes (or Dask workers).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels._replicates import progress_bar, run_replicates
from mixedmodels.errors import (
    ConvergenceWarning,
    DataError,
    ModelSpecError,
    SeparationWarning,
    SingularFitWarning,
)
from mixedmodels.glmm.pirls import PirlsError
from mixedmodels.glmm.result import GlmmResult
from mixedmodels.inference.profile import variance_parameter_names
from mixedmodels.lmm.record import LmmRecord
from mixedmodels.lmm.refit import refit_response
from mixedmodels.lmm.simulate import simulate_responses

__all__ = ["BootstrapResult", "bootstrap"]


@dataclass(frozen=True)
class BootstrapResult:
    """Replicates of a parametric bootstrap.

    Attributes
    ----------
    replicates : pandas.DataFrame
        One row per replicate: each fixed effect, theta element, ``sigma``, and the
        random-effect SDs and correlations under lme4's names (``sd_Days|Subject``).
    estimate : pandas.Series
        The same quantities for the original fit.
    seed : int or None
    """

    replicates: pd.DataFrame
    estimate: pd.Series
    seed: int | None

    def intervals(self, level: float = 0.95) -> pd.DataFrame:
        """Percentile intervals: ``estimate, lower, upper`` per quantity."""
        if not 0 < level < 1:
            raise ValueError(f"level must lie strictly between 0 and 1, not {level!r}")
        alpha = (1 - level) / 2
        return pd.DataFrame(
            {
                "estimate": self.estimate,
                "lower": self.replicates.quantile(alpha),
                "upper": self.replicates.quantile(1 - alpha),
            }
        )


Fit = Any  # LmmRecord, GlmmResult or StructuredLmmResult


def _structured(fit: Fit) -> bool:
    """Whether ``fit`` is an LMM with residual structures (imported here: its module
    imports this one's package)."""
    from mixedmodels.lmm.structured_result import StructuredLmmResult

    return isinstance(fit, StructuredLmmResult)


def _quantities(fit: Fit) -> np.ndarray:
    if _structured(fit):
        sd_cor = fit.varcorr["sd_cor"].to_numpy(dtype=np.float64)[:-1]
        structures = [*fit.correlation_params.values(), *fit.variance_params.values()]
        return np.concatenate([fit.beta, fit.theta, [fit.sigma], sd_cor, structures])
    if isinstance(fit, GlmmResult):
        sd_cor = fit.varcorr["sd_cor"].to_numpy(dtype=np.float64)
        dispersion = [float(fit.dispersion)] if _scalar_dispersion(fit) else []
        parts = [fit.beta, fit.theta, sd_cor, dispersion, fit.disp_beta, fit.zi_beta]
        return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts])
    sd_cor = fit.varcorr["sd_cor"].to_numpy(dtype=np.float64)[:-1]  # without sigma
    return np.concatenate([fit.beta, fit.theta, [fit.sigma], sd_cor])


def _scalar_dispersion(fit: GlmmResult) -> bool:
    return fit._family.has_dispersion and not fit.disp_names


def _names(fit: Fit) -> list[str]:
    if _structured(fit):
        scale = variance_parameter_names(fit.whitened)[:-1]
        structures = [*fit.correlation_params, *fit.variance_params]
        return list(fit.fixed_names) + list(fit.theta_names) + ["sigma"] + scale + structures
    if isinstance(fit, GlmmResult):
        dispersion = ["dispersion"] if _scalar_dispersion(fit) else []
        return (
            list(fit.fixed_names)
            + list(fit.theta_names)
            + variance_parameter_names(fit)  # type: ignore[arg-type]
            + dispersion
            + [f"disp~{name}" for name in fit.disp_names]
            + [f"zi~{name}" for name in fit.zi_names]
        )
    scale = variance_parameter_names(fit)[:-1]
    return list(fit.fixed_names) + list(fit.theta_names) + ["sigma"] + scale


def _replicate(fit: Fit, seq: np.random.SeedSequence) -> np.ndarray:
    rng = np.random.default_rng(seq)
    if isinstance(fit, LmmRecord):
        y = simulate_responses(fit, 1, rng, "new")[:, 0]
        return _quantities(refit_response(fit, y))
    y = fit.simulate(1, rng)[:, 0]
    with warnings.catch_warnings():
        # a replicate's boundary fits and notes are part of the bootstrap distribution
        for kind in (ConvergenceWarning, SingularFitWarning, SeparationWarning):
            warnings.simplefilter("ignore", kind)
        try:
            return _quantities(fit.refit(y))
        except (PirlsError, DataError, np.linalg.LinAlgError):
            # lme4's bootMer records a failed refit as NA, and so do we
            return np.full(len(_names(fit)), np.nan)


def bootstrap(
    fit: Fit,
    n: int = 1000,
    seed: int | None = None,
    n_jobs: int = 1,
    progress: bool = True,
    client: Any = None,
) -> BootstrapResult:
    """Parametric bootstrap: ``n`` refits to responses simulated from ``fit``.

    Parameters
    ----------
    fit : LmmRecord or GlmmResult
        A fit of :func:`mixedmodels.lmm` (an ``LmmResult``) or its record, or of
        :func:`mixedmodels.glmm` (its replicates hold beta, theta, the SDs and
        correlations, the dispersion and the dispersion and zero-inflation models'
        coefficients; a replicate whose refit fails is a row of NaN, as in lme4's
        ``bootMer``), or an LMM with residual structures (its replicates add the
        structures' parameters on nlme's scales).
    n : int
        Number of replicates.
    seed : int, optional
        Seed of the replicates; the same seed gives the same table for any ``n_jobs``.
    n_jobs : int
        Worker processes (-1: one per core).
    progress : bool
        Show a progress bar.
    client : dask.distributed.Client, optional
        Run the replicates on the workers of this Dask cluster (the fit is sent to each
        worker once); the same seed gives the same table as a serial run.
    """
    if _structured(fit):
        pass
    elif isinstance(fit, GlmmResult):
        if fit._model is None:
            raise ModelSpecError("this GLMM fit does not hold its model, so it cannot be refitted")
    elif isinstance(fit, LmmRecord):
        fit._require_rows("the parametric bootstrap")
    else:
        raise ModelSpecError("bootstrap takes a fit from mm.lmm or mm.glmm")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ModelSpecError(f"n must be a positive whole number of replicates, not {n!r}")
    seqs = np.random.SeedSequence(seed).spawn(int(n))
    bar = progress_bar(int(n), progress, "bootstrap", "fit")
    rows = run_replicates(_replicate, fit, seqs, n_jobs=n_jobs, client=client, bar=bar)
    if bar is not None:
        bar.close()
    names = _names(fit)
    return BootstrapResult(
        pd.DataFrame(np.vstack(rows), columns=names),
        pd.Series(_quantities(fit), index=names),
        seed,
    )
