"""Many simulated data sets: how the three estimators' errors compare on average."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels._replicates import run_replicates
from mixedmodels.pooling.pool import pooling
from mixedmodels.pooling.simulate import simulate_clusters

__all__ = ["PoolingStudy", "pooling_study"]


@dataclass(frozen=True)
class PoolingStudy:
    """Mean squared errors of the three estimators over simulated data sets.

    Attributes
    ----------
    mse : pandas.DataFrame
        One row per data set: ``no_pooling, complete_pooling, partial_pooling``.
    """

    mse: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Mean MSE of each estimator, its Monte Carlo SE, and how often each is best."""
        best = self.mse.idxmin(axis=1).value_counts(normalize=True)
        return pd.DataFrame(
            {
                "mean_mse": self.mse.mean(),
                "mc_se": self.mse.std(ddof=1) / np.sqrt(len(self.mse)),
                "share_best": best.reindex(self.mse.columns).fillna(0.0),
            }
        )


def _one(
    design: tuple[int, float, float, float, str], seq: np.random.SeedSequence
) -> dict[str, float]:
    """One simulated data set's MSEs: ``design`` is (clusters, mean size, sigma_u,
    sigma_e, sizes)."""
    n_clusters, mean_size, sigma_u, sigma_e, sizes = design
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = simulate_clusters(
            n_clusters, mean_size, sigma_u, sigma_e, sizes, seed=np.random.default_rng(seq)
        )
        result = pooling(data)
    assert result.mse is not None
    return dict(result.mse)


def pooling_study(
    n_datasets: int = 200,
    n_clusters: int = 16,
    mean_size: float = 8,
    sigma_u: float = 1.5,
    sigma_e: float = 2.0,
    sizes: str = "poisson",
    seed: int | None = None,
    n_jobs: int = 1,
    client: Any = None,
) -> PoolingStudy:
    """Fit ``n_datasets`` simulated data sets and record each estimator's MSE against the
    true cluster means (the course's claim: partial pooling typically beats both).

    Data set ``i`` draws from its own generator spawned from ``seed``, so the table does
    not depend on ``n_jobs`` (worker processes, -1: one per core) or on ``client`` (a
    ``dask.distributed.Client`` whose workers fit the data sets).
    """
    seqs = np.random.SeedSequence(seed).spawn(int(n_datasets))
    design = (n_clusters, mean_size, sigma_u, sigma_e, sizes)
    rows = run_replicates(_one, design, seqs, n_jobs=n_jobs, client=client)
    return PoolingStudy(pd.DataFrame(rows))
