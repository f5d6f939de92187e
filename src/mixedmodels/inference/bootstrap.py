"""Parametric bootstrap of a linear mixed model (lme4's ``bootMer``).

Each replicate simulates a response from the fitted model (new random effects and new
residuals) and refits the model to it. Replicate ``i`` draws from its own generator,
spawned from one ``numpy.random.SeedSequence``, so a seed gives the same replicates
whatever the number of worker processes (or Dask workers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels._replicates import run_replicates
from mixedmodels.errors import ModelSpecError
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


def _quantities(fit: LmmRecord) -> np.ndarray:
    sd_cor = fit.varcorr["sd_cor"].to_numpy(dtype=np.float64)[:-1]  # without sigma
    return np.concatenate([fit.beta, fit.theta, [fit.sigma], sd_cor])


def _names(fit: LmmRecord) -> list[str]:
    scale = variance_parameter_names(fit)[:-1]
    return list(fit.fixed_names) + list(fit.theta_names) + ["sigma"] + scale


def _replicate(fit: LmmRecord, seq: np.random.SeedSequence) -> np.ndarray:
    y = simulate_responses(fit, 1, np.random.default_rng(seq), "new")[:, 0]
    return _quantities(refit_response(fit, y))


def _progress(total: int, show: bool) -> object:
    if not show:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, desc="bootstrap", unit="fit")


def bootstrap(
    fit: LmmRecord,
    n: int = 1000,
    seed: int | None = None,
    n_jobs: int = 1,
    progress: bool = True,
    client: Any = None,
) -> BootstrapResult:
    """Parametric bootstrap: ``n`` refits to responses simulated from ``fit``.

    Parameters
    ----------
    fit : LmmRecord
        A fit of :func:`mixedmodels.lmm` (an ``LmmResult``) or its record.
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
    if not isinstance(fit, LmmRecord):
        raise ModelSpecError("bootstrap takes a linear mixed model fit from mm.lmm")
    fit._require_rows("the parametric bootstrap")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ModelSpecError(f"n must be a positive whole number of replicates, not {n!r}")
    seqs = np.random.SeedSequence(seed).spawn(int(n))
    bar = _progress(int(n), progress)
    rows = run_replicates(_replicate, fit, seqs, n_jobs=n_jobs, client=client, bar=bar)
    if bar is not None:
        bar.close()  # type: ignore[attr-defined]
    names = _names(fit)
    return BootstrapResult(
        pd.DataFrame(np.vstack(rows), columns=names),
        pd.Series(_quantities(fit), index=names),
        seed,
    )
