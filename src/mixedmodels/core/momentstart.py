"""A starting theta from moment equations of the grouping factors' sums of squares.

lme4 starts every fit at theta = 1. For models whose terms are all scalar, the
cross-product blocks already hold what the moment equations need: the level sums
``Z_l'r`` of the least-squares residuals r, the level sizes ``Z_l'Z_l`` and the counts
``n_lj`` of every pair of levels of two factors (the off-diagonal blocks). With the
between-level sum of squares ``T_f = sum_l (Z_l'r)^2 / n_l`` of each factor f, the
residual sum of squares ``r'r`` and ``k_g = sum_j n_j^2 / N``, Henderson's Method I
(Searle, Casella and McCulloch 1992, *Variance Components*, section 5.3) equates

    E[T_f] = (m_f - 1) sigma^2 + sum_g (K_fg - k_g) sigma_g^2,    K_fg = sum_lj n_lj^2 / n_l,
    E[r'r] = (N - p) sigma^2 + sum_g (N - k_g) sigma_g^2,

(``K_ff = N``; ``m_f`` levels) and solves them jointly for ``sigma^2`` and every
``sigma_g^2``, so that crossed factors do not count each other's variance as their own;
``theta_g = sigma_g / sigma``. The equations hold for the response, not for residuals
from the fixed effects, so the start is close, not exact: Newton steps with a differenced
Hessian take it from there. Where the joint equations give no positive ``sigma^2``, each
factor's one-way analysis of variance (section 3.6 there) is the start instead.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from mixedmodels.core.covariance import ThetaMap
from mixedmodels.design.crossproducts import CrossProducts

__all__ = ["MIN_START", "moment_theta"]

#: Levels whose ``Z_l'Z_l`` has a larger condition number are left out of the two-stage
#: estimate: their lines are too uncertain to tell their spread from their noise. The
#: choice depends on the design alone, so the levels kept estimate the same covariance.
#: On 100k rows of sim_nested_slopes (5 rows a level) 1e6 and 1e3 kept levels whose
#: noise swamped the spread (no estimate); 30 came within 5% of the optimum.
WELL_DETERMINED = 30.0
#: Smallest starting theta: a factor whose moment estimate is zero starts here, inside
#: the bound, and the optimizer decides whether the optimum lies on it. Small estimates
#: are kept: InstEval's 14 departments have 0.061 against an optimum of 0.071, where a
#: floor of 0.1 cost two more evaluations.
MIN_START = 0.01


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
    model of scalar terms only, one per factor, or of one factor with a vector-valued term
    (:func:`_vector_theta`); None for other models, or where a factor's moments are
    undefined."""
    m0, k0, p1 = products.bz0.shape
    p = p1 - 1
    bb = products.bb
    try:
        beta = np.linalg.solve(bb[:p, :p], bb[:p, p]) if p else np.zeros(0)
    except np.linalg.LinAlgError:
        return None
    rss = float(bb[p, p] - bb[p, :p] @ beta)
    if not rss > 0:
        return None
    if k0 > 1 and not tail_shapes:
        return _vector_theta(products, beta, rss, theta_map)
    if (
        k0 != 1
        or any(k != 1 for _, k in tail_shapes)
        or theta_map.position.shape[0] != 1 + len(tail_shapes)
    ):
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
    joint = _joint_theta(products, blocks, tail_shapes, rss, p)
    if joint is not None:
        by_block = list(joint)
    else:
        by_block = []
        for sizes, sums in blocks:
            theta_b = _factor_theta(np.asarray(sizes, dtype=np.float64), sums, rss)
            if theta_b is None:
                return None
            by_block.append(theta_b)
    return np.array([by_block[int(b)] for b in theta_map.position[:, 0]])


def _vector_theta(
    products: CrossProducts, beta: np.ndarray, rss: float, theta_map: ThetaMap
) -> np.ndarray | None:
    """The two-stage moment estimate of one factor's ``k x k`` covariance (Swamy 1970,
    *Econometrica* 38, 311-323): each level's least-squares coefficients
    ``b_l = (Z_l'Z_l)^{-1} Z_l'r`` of the residuals r, their spread across levels less
    the average sampling covariance ``sigma^2 (Z_l'Z_l)^{-1}``, with ``sigma^2`` from
    the residual sum of squares within levels (each level's own fit, by the pseudo-inverse
    where ``Z_l'Z_l`` is singular). The spread is taken over the levels whose ``Z_l'Z_l``
    has a condition number below ``WELL_DETERMINED``. None when fewer than ``k + 2`` of
    them are left, or when the estimate relative to ``sigma^2`` has an eigenvalue below
    ``MIN_START^2``."""
    zz, bz = products.zz0, products.bz0  # (m, k, k), (m, k, p + 1)
    m, k, p1 = bz.shape
    if theta_map.block_sizes != (k,):
        return None
    p = p1 - 1
    sums = bz[:, :, p] - bz[:, :, :p] @ beta  # (m, k): Z_l'r
    # every level's own least-squares fit, by the pseudo-inverse of its Z_l'Z_l: the
    # residual sum of squares within levels has expectation (N - p - sum rank_l) sigma^2
    values, vectors = np.linalg.eigh(zz)
    largest = values[:, -1:]
    kept = values > 1e-10 * np.maximum(largest, 1e-300)
    inverse_values = np.where(kept, 1.0 / np.where(kept, values, 1.0), 0.0)
    inverses = np.einsum("lak,lk,lbk->lab", vectors, inverse_values, vectors)
    coefficients = np.einsum("lab,lb->la", inverses, sums)
    explained = float(np.einsum("la,la->", coefficients, sums))
    dof = products.n - p - int(kept.sum())
    if dof <= 0:
        return None
    sigma2 = (rss - explained) / dof
    if not sigma2 > 0:
        return None
    # the spread of the lines from the well-determined levels only
    usable = np.all(kept, axis=1) & (values[:, -1] < WELL_DETERMINED * values[:, 0])
    if int(usable.sum()) < k + 2:
        return None
    coefficients, inverses = coefficients[usable], inverses[usable]
    spread = np.cov(coefficients, rowvar=False)
    covariance = spread - sigma2 * inverses.mean(axis=0)
    relative = 0.5 * (covariance + covariance.T) / sigma2
    if np.linalg.eigvalsh(relative)[0] < MIN_START**2:
        # a spread of lines no larger than their sampling noise: a boundary optimum, or
        # levels too small to tell (5 rows a level): lme4's start serves better there
        return None
    factor = np.linalg.cholesky(relative)
    return np.array([factor[r, c] for _, r, c in theta_map.position])


def _share(squares: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """``squares / sizes``, 0 where a level is empty."""
    out: np.ndarray = np.where(sizes > 0, squares / np.where(sizes > 0, sizes, 1.0), 0.0)
    return out


def _joint_theta(
    products: CrossProducts,
    blocks: list[tuple[np.ndarray, np.ndarray]],
    tail_shapes: tuple[tuple[int, int], ...],
    rss: float,
    p: int,
) -> np.ndarray | None:
    """Henderson's Method I for all factors at once (the module's equations); None when
    the system is singular or gives no positive residual variance."""
    n_factors = len(blocks)
    if n_factors < 2:
        return None
    sizes = [np.asarray(b[0], dtype=np.float64) for b in blocks]
    totals = np.array([float(z.sum()) for z in sizes])
    if np.any(totals <= 0):
        return None
    mean_terms = np.array([float(np.sum(z**2)) / t for z, t in zip(sizes, totals, strict=True)])
    between = np.array(
        [float(np.sum(_share(sums**2, z))) for z, (_, sums) in zip(sizes, blocks, strict=True)]
    )
    levels = np.array([float(np.count_nonzero(z > 0)) for z in sizes])
    assert products.zt0 is not None and products.ztt is not None
    starts = np.cumsum([0] + [m for m, _ in tail_shapes])
    tail_sizes = np.concatenate(sizes[1:])
    K = np.diag(totals)
    # the first factor against each tail factor: zt0's entries n_jl (tail level j, first
    # factor level l), K_g0 = sum n_jl^2 / n_j and K_0g = sum n_jl^2 / n_l
    cross = sp.coo_matrix(products.zt0)
    block = np.searchsorted(starts, cross.row, side="right")  # 1 + tail factor of row j
    squares = cross.data**2
    K[1:, 0] = np.bincount(block, _share(squares, tail_sizes[cross.row]), n_factors)[1:]
    K[0, 1:] = np.bincount(block, _share(squares, sizes[0][cross.col]), n_factors)[1:]
    if n_factors > 2:  # tail factors against each other: the off-diagonal blocks of ztt
        pairs = sp.coo_matrix(products.ztt)  # a dense array's non-zeros too
        g = np.searchsorted(starts, pairs.row, side="right")
        h = np.searchsorted(starts, pairs.col, side="right")
        other = g != h
        flat = np.bincount(
            g[other] * n_factors + h[other],
            _share(pairs.data[other] ** 2, tail_sizes[pairs.row[other]]),
            n_factors * n_factors,
        ).reshape(n_factors, n_factors)
        K[1:, 1:] += flat[1:, 1:]
    n = float(products.n)
    system = np.zeros((n_factors + 1, n_factors + 1))
    system[:n_factors, 0] = levels - 1.0
    system[:n_factors, 1:] = K - mean_terms[None, :]
    system[n_factors, 0] = n - p
    system[n_factors, 1:] = totals - mean_terms
    observed = np.append(between, rss)
    try:
        solved = np.linalg.solve(system, observed)
    except np.linalg.LinAlgError:
        return None
    sigma2 = float(solved[0])
    if not (np.all(np.isfinite(solved)) and sigma2 > 0):
        return None
    out: np.ndarray = np.maximum(np.sqrt(np.maximum(solved[1:], 0.0) / sigma2), MIN_START)
    return out
