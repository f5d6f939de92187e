"""Power of a two-arm cluster-randomised comparison in closed form, through the design
effect: with ``J`` clusters of ``m`` rows, ``J_1`` of them treated, between-cluster
variance ``sigma_u^2`` and residual variance ``sigma_e^2``, the treatment effect's
estimate (the difference of the arms' means of cluster means, which is what the mixed
model's estimate is in a balanced design) has variance

    (sigma_u^2 + sigma_e^2 / m) (1 / J_1 + 1 / J_0)
        = sigma^2 DEFF (1 / (J_1 m) + 1 / (J_0 m)),   DEFF = 1 + (m - 1) ICC,

and its t statistic has ``J - 2`` degrees of freedom (a t test on the cluster means;
Donner & Klar, *Design and Analysis of Cluster Randomization Trials*, 2000). The power of the
two-sided level-``alpha`` test is that of a noncentral t with noncentrality
``effect / SE``.
"""

from __future__ import annotations

import numpy as np
import scipy

from mixedmodels.errors import ModelSpecError

__all__ = ["cluster_randomized_power"]


def cluster_randomized_power(
    n_clusters: int,
    cluster_size: int,
    effect: float,
    sigma_u: float,
    sigma_e: float,
    alpha: float = 0.05,
    treated: int | None = None,
) -> float:
    """Power of the t test of a cluster-level treatment in a balanced random-intercept
    design (see the module text).

    Parameters
    ----------
    n_clusters : int
        Clusters in both arms together (at least 3).
    cluster_size : int
        Rows per cluster.
    effect : float
        The difference between the arms' means.
    sigma_u, sigma_e : float
        Standard deviations of the cluster intercepts and of the residuals.
    alpha : float
        Level of the two-sided test.
    treated : int, optional
        Clusters in the treated arm (half of them, rounded down, by default).

    Returns
    -------
    float
    """
    J, m = int(n_clusters), int(cluster_size)
    j1 = J // 2 if treated is None else int(treated)
    if J < 3 or m < 1 or not 0 < j1 < J:
        raise ModelSpecError(
            "the design needs at least 3 clusters of at least 1 row and clusters in both "
            f"arms (got {J} clusters of {m}, {j1} treated)"
        )
    if not 0 < alpha < 1:
        raise ModelSpecError(f"alpha must lie strictly between 0 and 1, not {alpha!r}")
    if sigma_u < 0 or sigma_e <= 0:
        raise ModelSpecError("sigma_u must be at least 0 and sigma_e above 0")
    se = np.sqrt((sigma_u**2 + sigma_e**2 / m) * (1.0 / j1 + 1.0 / (J - j1)))
    df = J - 2
    crit = scipy.stats.t.isf(alpha / 2, df)
    ncp = effect / se
    return float(scipy.stats.nct.sf(crit, df, ncp) + scipy.stats.nct.cdf(-crit, df, ncp))
