"""A starting theta from the analysis of variance of each grouping factor.

lme4 starts every fit at theta = 1. For models whose terms are all scalar, the
cross-product blocks already hold what a one-way analysis of variance of the
least-squares residuals needs for each factor: the level sums ``Z_l'r`` and the level
sizes ``Z_l'Z_l``. With ``SSB = sum_l (Z_l'r)^2 / Z_l'Z_l``, the residual sum of squares
``r'r`` and ``N = sum_l Z_l'Z_l`` over ``m`` levels, the moment equations of the
unbalanced one-way layout (Searle, Casella and McCulloch 1992, *Variance Components*,
section 3.6),

    E[r'r - SSB] = (N - m) sigma^2,    E[SSB] = (m - 1) sigma^2 + (N - sum_l n_l^2 / N) sigma_b^2,

give ``theta_b = sigma_b / sigma``. Each factor is taken alone, so crossed factors share
some of their variance, but the start is close enough for Newton steps with a differenced
Hessian to converge in a few evaluations (InstEval: 12 evaluations instead of 22 from
theta = 1).
"""

from __future__ import annotations

import numpy as np

from mixedmodels.core.covariance import ThetaMap
from mixedmodels.design.crossproducts import CrossProducts

__all__ = ["MIN_START", "moment_theta"]

#: Smallest starting theta: a factor whose moment estimate is zero starts here, inside
#: the bound, and the optimizer decides whether the optimum lies on it.
MIN_START = 0.1


def _factor_theta(sizes: np.ndarray, sums: np.ndarray, rss: float) -> float | None:
    present = sizes > 0
    sizes, sums = sizes[present], sums[present]
    m = int(sizes.size)
    total = float(sizes.sum())
    spread = total - float(np.sum(sizes**2)) / total if total > 0 else 0.0
    if m < 2 or total <= m or spread <= 0:
        return None
    between = float(np.sum(sums**2 / sizes))
    sigma2 = (rss - between) / (total - m)
    if not sigma2 > 0:
        return None
    sigma_b2 = (between - (m - 1) * sigma2) / spread
    return float(max(np.sqrt(max(sigma_b2, 0.0) / sigma2), MIN_START))


def moment_theta(
    products: CrossProducts,
    tail_shapes: tuple[tuple[int, int], ...],
    theta_map: ThetaMap,
) -> np.ndarray | None:
    """The moment estimate of theta (of the matrices ``products`` was formed on) for a
    model of scalar terms only, one per factor; None for other models, or where a
    factor's moments are undefined."""
    m0, k0, p1 = products.bz0.shape
    if (
        k0 != 1
        or any(k != 1 for _, k in tail_shapes)
        or theta_map.position.shape[0] != 1 + len(tail_shapes)
    ):
        return None
    p = p1 - 1
    bb = products.bb
    try:
        beta = np.linalg.solve(bb[:p, :p], bb[:p, p]) if p else np.zeros(0)
    except np.linalg.LinAlgError:
        return None
    rss = float(bb[p, p] - bb[p, :p] @ beta)
    if not rss > 0:
        return None
    blocks = [(products.zz0[:, 0, 0], products.bz0[:, 0, p] - products.bz0[:, 0, :p] @ beta)]
    if tail_shapes:
        assert products.ztt is not None and products.bzt is not None
        ztt = products.ztt
        diagonal = np.asarray(ztt.diagonal()).ravel()
        residual_sums = products.bzt[:, p] - products.bzt[:, :p] @ beta
        start = 0
        for m, _ in tail_shapes:
            blocks.append((diagonal[start : start + m], residual_sums[start : start + m]))
            start += m
    by_block = []
    for sizes, sums in blocks:
        theta_b = _factor_theta(np.asarray(sizes, dtype=np.float64), sums, rss)
        if theta_b is None:
            return None
        by_block.append(theta_b)
    return np.array([by_block[int(b)] for b in theta_map.position[:, 0]])
