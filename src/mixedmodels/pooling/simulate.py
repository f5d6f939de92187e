"""Clustered data with known cluster means, for teaching partial pooling."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mixedmodels.errors import ModelSpecError

__all__ = ["simulate_clusters"]


def simulate_clusters(
    n_clusters: int = 16,
    mean_size: float = 8,
    sigma_u: float = 1.5,
    sigma_e: float = 2.0,
    sizes: str = "poisson",
    grand_mean: float = 0.0,
    seed: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Simulate ``y_ij = mu + u_j + e_ij`` with ``u_j ~ N(0, sigma_u^2)`` and
    ``e_ij ~ N(0, sigma_e^2)``.

    Parameters
    ----------
    n_clusters, mean_size, sigma_u, sigma_e : numbers
        J, the mean cluster size and the two standard deviations (the course's defaults
        16, 8, 1.5, 2.0).
    sizes : {"poisson", "equal"}
        Cluster sizes 1 + Poisson(mean_size - 1), so small and large clusters sit side
        by side, or all equal to ``mean_size``.
    grand_mean : float
    seed : int or numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        Columns ``cluster`` (categorical), ``y`` and ``true_mean`` (mu + u_j).
    """
    if not isinstance(n_clusters, (int, np.integer)) or n_clusters < 2:
        raise ModelSpecError(f"n_clusters must be a whole number of at least 2, not {n_clusters!r}")
    if not mean_size >= 1:
        raise ModelSpecError(f"mean_size must be at least 1, not {mean_size!r}")
    for name, value in (("sigma_u", sigma_u), ("sigma_e", sigma_e)):
        if not (np.isfinite(value) and value > 0):
            raise ModelSpecError(f"{name} must be a positive standard deviation, not {value!r}")
    if sizes not in ("poisson", "equal"):
        raise ModelSpecError(f"sizes must be 'poisson' or 'equal', not {sizes!r}")
    rng = np.random.default_rng(seed)
    if sizes == "equal":
        n = np.full(int(n_clusters), max(1, int(round(mean_size))))
    else:
        n = 1 + rng.poisson(max(mean_size - 1, 0.0), size=int(n_clusters))
    u = rng.normal(0.0, sigma_u, size=int(n_clusters))
    cluster = np.repeat(np.arange(int(n_clusters)), n)
    truth = grand_mean + u[cluster]
    y = truth + rng.normal(0.0, sigma_e, size=cluster.size)
    labels = [f"c{j + 1:02d}" for j in range(int(n_clusters))]
    frame = pd.DataFrame(
        {
            "cluster": pd.Categorical(np.asarray(labels, dtype=object)[cluster], categories=labels),
            "y": y,
            "true_mean": truth,
        }
    )
    frame.attrs.update(
        sigma_u=sigma_u,
        sigma_e=sigma_e,
        grand_mean=grand_mean,
        icc=sigma_u**2 / (sigma_u**2 + sigma_e**2),
    )
    return frame
