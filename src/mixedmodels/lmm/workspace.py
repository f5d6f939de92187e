"""Workspace: the blocked Cholesky factor L of Lambda'Z'WZ Lambda + I, updated for each theta.

Layout (Bates et al. 2015, with MixedModels.jl's block types): the first grouping factor's
diagonal block is an ``(m, k, k)`` stack; the remaining factors form one dense block; the
fixed-effects-and-response block ``[X y]`` is dense. The work per theta depends on the
number of levels, never on the number of rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from mixedmodels.design.crossproducts import CrossProducts
from mixedmodels.linalg import cholesky_blocks, inverse_lower_blocks

__all__ = ["Workspace", "Factorization"]


@dataclass(frozen=True)
class Factorization:
    """L for one theta, with what the solutions need.

    ``L0`` is the first factor's stack of Cholesky blocks, ``G = T0 L0^{-T}``,
    ``LTT`` the dense tail factor (L's block below ``L0`` is
    ``Lambda_T' Z_T'WZ0 blockdiag(G)``, kept implicit), ``LB0`` and ``LBT`` the rows of ``[X y]``, ``LBB`` its own factor.
    """

    templates: tuple[np.ndarray, ...]
    L0: np.ndarray
    G: np.ndarray
    LB0: np.ndarray
    LTT: np.ndarray | None
    LBT: np.ndarray | None
    LBB: np.ndarray
    logdet_z: float


class Workspace:
    """The mutable state of one LMM fit: A's blocks and the tail layout.

    Parameters
    ----------
    products : CrossProducts
    tail_shapes : list of (m, k)
        Levels and coefficients of the tail factors, in order.
    """

    def __init__(self, products: CrossProducts, tail_shapes: list[tuple[int, int]]) -> None:
        self.products = products
        self.tail_shapes = tail_shapes
        self.n = products.n
        self.p = products.bb.shape[0] - 1
        m0, k0, _ = products.zz0.shape
        self._eye0 = np.broadcast_to(np.eye(k0), (m0, k0, k0))
        self._tail_offsets = np.cumsum([0] + [m * k for m, k in tail_shapes])
        if products.zt0 is not None:
            zt0 = products.zt0.tocsr()
            self._zt0 = zt0
            # k0 = 1: the product scales columns, so keep the column of every stored entry.
            self._zt0_col = zt0.indices
            self._zt0_t = zt0.T.tocsr()

    # -- Lambda_T, the tail's relative covariance factor --------------------------------
    def _lambda_t_left(self, templates: tuple[np.ndarray, ...], M: np.ndarray) -> np.ndarray:
        """Lambda_T' M for a dense M with q_T rows."""
        out = np.empty_like(M)
        for (m, k), T, start in zip(
            self.tail_shapes, templates, self._tail_offsets[:-1], strict=True
        ):
            rows = slice(int(start), int(start) + m * k)
            block = M[rows].reshape(m, k, -1)
            if k == 1:
                out[rows] = (T[0, 0] * block).reshape(m, -1)
            else:
                out[rows] = np.einsum("ka,lkc->lac", T, block).reshape(m * k, -1)
        return out

    def _lambda_t_right(self, templates: tuple[np.ndarray, ...], v: np.ndarray) -> np.ndarray:
        """Lambda_T v for a vector v of length q_T."""
        out = np.empty_like(v)
        for (m, k), T, start in zip(
            self.tail_shapes, templates, self._tail_offsets[:-1], strict=True
        ):
            rows = slice(int(start), int(start) + m * k)
            out[rows] = (v[rows].reshape(m, k) @ T.T).ravel()
        return out

    def _blockdiag(self, blocks: np.ndarray) -> sp.csr_matrix:
        m, k, _ = blocks.shape
        if k == 1:
            return sp.diags(blocks[:, 0, 0], format="csr")
        return sp.block_diag(list(blocks), format="csr")

    def factorize(self, templates: list[np.ndarray]) -> Factorization:
        """Blocked Cholesky factor for the covariance templates ``T_b`` of each factor."""
        A = self.products
        T0 = templates[0]
        k0 = T0.shape[0]
        p1 = self.p + 1
        if k0 == 1:
            t = T0[0, 0]
            L0 = np.sqrt(t * t * A.zz0 + 1.0)
            G = t / L0
        else:
            M0 = np.einsum("ka,lkj,jb->lab", T0, A.zz0, T0) + self._eye0
            L0 = cholesky_blocks(M0)
            G = np.einsum("ka,lba->lkb", T0, inverse_lower_blocks(L0))
        logdet_z = 2.0 * float(np.sum(np.log(np.diagonal(L0, axis1=1, axis2=2))))
        if k0 == 1:
            LB0 = A.bz0[:, 0, :, None] * G  # (m, p+1, 1)
        else:
            LB0 = np.einsum("lap,lab->lpb", A.bz0, G)
        W_bz0 = None
        BB = A.bb - np.einsum("lpb,lqb->pq", LB0, LB0)
        LTT = LBT = None
        if A.zt0 is not None:
            tail_templates = tuple(templates[1:])
            if k0 == 1:
                w = (G[:, 0, 0] ** 2)
                C = (self._zt0.multiply(w[None, :]).tocsr() @ self._zt0_t).toarray()
                W_bz0 = A.bz0[:, 0, :] * w[:, None]
            else:
                W = np.einsum("lab,lcb->lac", G, G)
                Wsp = self._blockdiag(W)
                C = (self._zt0 @ Wsp @ self._zt0_t).toarray()
                W_bz0 = np.einsum("lab,lbp->lap", W, A.bz0).reshape(-1, p1)
            D = A.ztt - C
            D = self._lambda_t_left(tail_templates, D)
            D = self._lambda_t_left(tail_templates, np.ascontiguousarray(D.T))
            D[np.diag_indices_from(D)] += 1.0
            LTT = scipy.linalg.cholesky(D, lower=True, check_finite=False)
            logdet_z += 2.0 * float(np.sum(np.log(np.diag(LTT))))
            V = self._zt0 @ W_bz0
            R = self._lambda_t_left(tail_templates, A.bzt - V)
            LBT = scipy.linalg.solve_triangular(LTT, R, lower=True, check_finite=False).T
            BB = BB - LBT @ LBT.T
        LBB = scipy.linalg.cholesky(BB, lower=True, check_finite=False)
        return Factorization(tuple(templates), L0, G, LB0, LTT, LBT, LBB, logdet_z)

    def objective(self, fac: Factorization, reml: bool) -> float:
        """lme4's profiled deviance (ML) or REML criterion at this factorization."""
        n, p = self.n, self.p
        r2 = fac.LBB[p, p] ** 2
        dof = n - p if reml else n
        value = fac.logdet_z + dof * (1.0 + np.log(2.0 * np.pi * r2 / dof))
        if reml:
            value += 2.0 * float(np.sum(np.log(np.diag(fac.LBB)[:p])))
        return float(value - self.products.sum_log_weights)
