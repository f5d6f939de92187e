"""From a factorization at the optimum: beta, the conditional modes and their variances.

Back-substitution on the blocked factor (Bates et al. 2015, section 3.5): solve
``L_XX' beta = c_X``, then ``L_ZZ' u = c_Z - L_XZ' beta`` and ``b = Lambda u``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from mixedmodels.core.levelpairs import level_pairs, scaled_lower_inverse, tail_inverse_pairs
from mixedmodels.core.pairinverse import PairPatternInverse
from mixedmodels.core.tailstorage import DenseInverse, DenseTailFactor
from mixedmodels.core.workspace import Factorization, Workspace
from mixedmodels.linalg.dense import cholesky_inverse, solve_lower
from mixedmodels.linalg.smallblocks import to_level_major

__all__ = ["Solution", "solve", "modes", "conditional_covariances"]

#: Entries of the dense slab used for conditional variances of the first factor.
CONDVAR_SLAB_ENTRIES = 2_000_000


@dataclass(frozen=True)
class Solution:
    """Estimates implied by one theta.

    Attributes
    ----------
    beta : numpy.ndarray
        Fixed effects, shape (p,).
    b0 : numpy.ndarray
        Conditional modes of the first factor, ``(m0, k0)``.
    b_tail : numpy.ndarray
        Conditional modes of the tail factors, stacked level-major, ``(q_T,)``.
    u0, u_tail : numpy.ndarray
        The spherical modes u (with b = Lambda u), shaped as ``b0`` and ``b_tail``.
    rss_penalized : float
        r^2, the penalized residual sum of squares.
    var_beta_unscaled : numpy.ndarray
        ``(L_XX L_XX')^{-1}``: times sigma^2 it is vcov(beta).
    """

    beta: np.ndarray
    b0: np.ndarray
    b_tail: np.ndarray
    u0: np.ndarray
    u_tail: np.ndarray
    rss_penalized: float
    var_beta_unscaled: np.ndarray


def modes(ws: Workspace, fac: Factorization) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """beta and the spherical modes ``u0`` (``(m0, k0)``) and ``u_tail`` at a factorization,
    without the modes on the scale of b or the fixed effects' variances."""
    return _back_substitute(ws, fac)[:3]


def _back_substitute(
    ws: Workspace, fac: Factorization
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """beta, u0, u_tail, then d0 (the first factor's right-hand side) and b_tail."""
    p = ws.p
    if p:
        LXX = fac.LBB[:p, :p]
        beta = solve_lower(LXX, fac.LBB[p, :p], transpose=True)
        d0 = fac.LB0[p] - np.einsum("p,pam->am", beta, fac.LB0[:p])  # (k0, m0)
    else:
        beta = np.zeros(0)
        d0 = fac.LB0[p]
    b_tail = np.zeros(0)
    uT = np.zeros(0)
    if fac.tail is not None and fac.LBT is not None:
        dT = fac.LBT[p, :] - fac.LBT[:p, :].T @ beta if p else fac.LBT[p, :]
        uT = fac.tail.solve_upper(np.ascontiguousarray(dT))
        b_tail = ws._lambda_t_right(fac.templates[1:], uT)
        x = (ws._zt0_t @ b_tail).reshape(d0.shape[1], d0.shape[0]).T
        d0 = d0 - np.einsum("abm,am->bm", fac.G, x)
    if d0.shape[0] == 1:
        u0 = (d0[0] / fac.L0[0, 0])[:, None]
    else:
        u0 = np.einsum("bam,bm->ma", fac.L0_inverse, d0)
    return beta, u0, uT, d0, b_tail


def solve(ws: Workspace, fac: Factorization) -> Solution:
    """Fixed effects and conditional modes at a factorization."""
    p = ws.p
    beta, u0, uT, d0, b_tail = _back_substitute(ws, fac)
    b0 = np.einsum("abm,bm->ma", fac.G, d0)
    V = cholesky_inverse(fac.LBB[:p, :p])
    return Solution(beta, b0, b_tail, u0, uT, float(fac.LBB[p, p] ** 2), V)


def conditional_covariances(ws: Workspace, fac: Factorization) -> list[np.ndarray]:
    """Unscaled conditional covariance of each factor's modes per level, ``(m, k, k)``.

    The diagonal blocks of ``Lambda (L_ZZ L_ZZ')^{-1} Lambda'``; times sigma^2 they are
    lme4's ``condVar``.
    """
    G = fac.G
    Wc = np.einsum("abm,cbm->acm", G, G)
    W = to_level_major(Wc)
    out = [W]
    if fac.tail is None:
        return out
    if isinstance(fac.tail, DenseTailFactor) and _solves_are_cheaper(ws):
        return _dense_tail_covariances(ws, fac, fac.tail.L, W, Wc)
    # The first factor's blocks gain W_l A_0T,l Lambda_T S^{-1} Lambda_T' A_T0,l W_l:
    # the quadratic forms P_l of the gradient, from the entries of S^{-1} they read.
    inverse = fac.tail.inverse()
    if isinstance(inverse, PairPatternInverse) and ws._gram_values is None:  # Z's own values
        scale = ws.tail_scale(fac.templates[1:])
        assert scale is not None
        P = inverse.quadratic_forms(scale)[None, None, :]
    elif isinstance(inverse, DenseInverse):
        P = level_pairs(ws).gathered_forms(scaled_lower_inverse(ws, fac, inverse))
    else:
        pairs, h = tail_inverse_pairs(ws, fac, inverse)
        P = pairs.quadratic_forms(h)
    extra = np.einsum("abm,bcm,cdm->mad", Wc, P, Wc)
    out[0] = W + extra
    for (m, k), T, start in zip(
        ws.tail_shapes, fac.templates[1:], ws._tail_offsets[:-1], strict=True
    ):
        idx = int(start) + np.arange(m * k).reshape(m, k)
        i = np.repeat(idx, k, axis=1).ravel()
        j = np.tile(idx, (1, k)).ravel()
        inner = inverse.entries(np.maximum(i, j), np.minimum(i, j)).reshape(m, k, k)
        out.append(np.einsum("ia,lab,jb->lij", T, inner, T))
    return out


#: Cost of gathering one pair of tail rows that meet in a first-factor level (an entry
#: of S^{-1} read and a sparse product), in flops of the dense triangular solves. Measured
#: on both ways of :func:`conditional_covariances`: 0.19 us a pair on sim_crossed (12.4M
#: pairs) and 0.25 us on the long-tailed 2k-item design (3.8M, with the map's build),
#: against 2.5e10 flop/s for the solves: 4,700-6,300 flops.
PAIR_FLOPS = 5000.0


def _solves_are_cheaper(ws: Workspace) -> bool:
    """Whether the first factor's conditional covariances on a dense tail are cheaper by
    triangular solves (``q_T^2`` flops per first-factor column) than by gathering the
    entries of S^{-1} that its levels' pairs of tail rows read (the dense inverse is
    ``2/3 q_T^3`` flops more). Heavy levels, which meet hundreds of tail rows, make the
    pairs expensive (a uniform crossed design); many light levels, the solves (a
    long-tailed one)."""
    k0, _, m0 = ws._zz0.shape
    q_t = ws.tail_size
    per_level = np.bincount(ws._zt0.indices // k0, minlength=m0) / k0
    n_pairs = float(np.sum(per_level * (per_level + 1.0) / 2.0)) * k0 * k0
    solves = float(q_t) ** 2 * m0 * k0
    gathers = PAIR_FLOPS * n_pairs + 2.0 / 3.0 * float(q_t) ** 3
    return bool(solves <= gathers)


def _dense_tail_covariances(
    ws: Workspace, fac: Factorization, LTT: np.ndarray, W: np.ndarray, Wc: np.ndarray
) -> list[np.ndarray]:
    """:func:`conditional_covariances` with a dense tail factor: by triangular solves on
    slabs of levels (level-3 BLAS), which on a densely crossed design (sim_crossed: 12M
    pairs of tail rows meeting in a subject) beats gathering the quadratic forms."""
    templates = fac.templates[1:]
    m0, k0, _ = W.shape
    # U = L_TT^{-1} Lambda_T' Z_T'WZ0 blockdiag(W): its column blocks add U_l'U_l to each
    # level's block. Taken a slab of levels at a time so no q_T x q_0 array is formed.
    extra = np.zeros_like(W)
    slab = max(1, CONDVAR_SLAB_ENTRIES // max(LTT.shape[0] * k0, 1))
    zt0_csc = ws._zt0.tocsc()
    for start in range(0, m0, slab):
        stop = min(start + slab, m0)
        slab_cols = zt0_csc[:, start * k0 : stop * k0]
        Wsp = ws.blockdiag(np.ascontiguousarray(Wc[:, :, start:stop]))
        ZW = (slab_cols @ Wsp).toarray()
        U = scipy.linalg.solve_triangular(
            LTT, ws._lambda_t_left(templates, ZW), lower=True, check_finite=False
        ).reshape(-1, stop - start, k0)
        extra[start:stop] = np.einsum("qla,qlb->lab", U, U)
    out = [W + extra]
    Linv = scipy.linalg.solve_triangular(LTT, np.eye(LTT.shape[0]), lower=True)
    for (m, k), T, start in zip(ws.tail_shapes, templates, ws._tail_offsets[:-1], strict=True):
        cols = Linv[:, int(start) : int(start) + m * k].reshape(-1, m, k)
        inner = np.einsum("qla,qlb->lab", cols, cols)
        out.append(np.einsum("ia,lab,jb->lij", T, inner, T))
    return out
