"""Parametric bootstrap of a linear mixed model (lme4's ``bootMer``).

Each replicate simulates a response from the fitted model (new random effects and new
residuals) and refits the model to it. Replicate ``i`` draws from its own generator,
spawned from one ``numpy.random.SeedSequence``, so a seed gives the same replicates
whatever the number of worker processes.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mixedmodels.errors import ModelSpecError
from mixedmodels.lmm.result import LmmResult

__all__ = ["BootstrapResult", "bootstrap"]

_FIT: LmmResult | None = None  # the fit a worker process bootstraps (set at fork)


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


def _quantities(fit: LmmResult) -> np.ndarray:
    sd_cor = fit.varcorr["sd_cor"].to_numpy(dtype=np.float64)[:-1]  # without sigma
    return np.concatenate([fit.beta, fit.theta, [fit.sigma], sd_cor])


def _names(fit: LmmResult) -> list[str]:
    from mixedmodels.inference.profile import variance_parameter_names

    scale = variance_parameter_names(fit)[:-1]
    return list(fit.fixed_names) + list(fit.theta_names) + ["sigma"] + scale


def _replicate(fit: LmmResult, seq: np.random.SeedSequence) -> np.ndarray:
    y = fit.simulate(1, seed=seq, re="new")[:, 0]
    return _quantities(fit.refit(y))


def _limit_threads() -> None:
    """Worker processes share the cores: one BLAS thread each."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def _worker(seqs: list[np.random.SeedSequence]) -> list[np.ndarray]:
    assert _FIT is not None
    return [_replicate(_FIT, s) for s in seqs]


def _progress(total: int, show: bool) -> object:
    if not show:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, desc="bootstrap", unit="fit")


def _chunks(
    items: list[np.random.SeedSequence], size: int
) -> Iterator[list[np.random.SeedSequence]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def bootstrap(
    fit: LmmResult,
    n: int = 1000,
    seed: int | None = None,
    n_jobs: int = 1,
    progress: bool = True,
) -> BootstrapResult:
    """Parametric bootstrap: ``n`` refits to responses simulated from ``fit``.

    Parameters
    ----------
    fit : LmmResult
    n : int
        Number of replicates.
    seed : int, optional
        Seed of the replicates; the same seed gives the same table for any ``n_jobs``.
    n_jobs : int
        Worker processes (-1: one per core).
    progress : bool
        Show a progress bar.
    """
    global _FIT
    if not isinstance(fit, LmmResult):
        raise ModelSpecError("bootstrap takes a linear mixed model fit from mm.lmm")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ModelSpecError(f"n must be a positive whole number of replicates, not {n!r}")
    jobs = (os.cpu_count() or 1) if n_jobs == -1 else max(1, int(n_jobs))
    seqs = np.random.SeedSequence(seed).spawn(int(n))
    bar = _progress(int(n), progress)
    rows: list[np.ndarray] = []
    if jobs == 1:
        for s in seqs:
            rows.append(_replicate(fit, s))
            if bar is not None:
                bar.update(1)  # type: ignore[attr-defined]
    else:
        _FIT = fit
        size = max(1, min(25, int(n) // (4 * jobs) or 1))
        context = multiprocessing.get_context("fork")
        try:
            with ProcessPoolExecutor(
                max_workers=jobs, mp_context=context, initializer=_limit_threads
            ) as pool:
                for part in pool.map(_worker, _chunks(seqs, size)):
                    rows.extend(part)
                    if bar is not None:
                        bar.update(len(part))  # type: ignore[attr-defined]
        finally:
            _FIT = None
    if bar is not None:
        bar.close()  # type: ignore[attr-defined]
    names = _names(fit)
    return BootstrapResult(
        pd.DataFrame(np.vstack(rows), columns=names),
        pd.Series(_quantities(fit), index=names),
        seed,
    )
