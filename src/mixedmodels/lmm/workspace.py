"""Workspace: the blocked Cholesky factor L of Lambda'Z'WZ Lambda + I, updated for each theta.

Layout (Bates et al. 2015, with MixedModels.jl's block types): the first grouping factor's
diagonal block is an ``(m, k, k)`` stack; the remaining factors form one dense block; the
fixed-effects-and-response block ``[X y]`` is dense. The work per theta depends on the
number of levels, never on the number of rows.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp

from mixedmodels.design.crossproducts import CrossProducts
from mixedmodels.linalg.dense import cholesky_lower
from mixedmodels.linalg.smallblocks import (
    inverse_lower_blocks,
    multiply_blocks,
    to_component_major,
    to_level_major,
)
from mixedmodels.linalg.weightedgram import WeightedGram

__all__ = ["Workspace", "Factorization"]

#: Largest dense tail (and number of fixed effects) counted as small, see
#: :attr:`Workspace.small`.
SMALL_DENSE = 256


@dataclass(frozen=True)
class Factorization:
    """L for one theta, with what the solutions need.

    ``L0`` (the first factor's Cholesky blocks) and ``G = T0 L0^{-T}`` are ``(k0, k0, m0)``
    component-major stacks; ``LB0``, the rows of ``[X y]`` below them, is
    ``(p + 1, k0, m0)``. L's block below ``L0`` is ``Lambda_T' Z_T'WZ0 blockdiag(G)``,
    kept implicit. ``LTT`` is the dense tail factor, ``LBT`` the rows of ``[X y]`` below
    it and ``LBB`` the factor of ``[X y]``'s own block.
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
        self.zz0_levels = np.ascontiguousarray(products.zz0)  # (m0, k0, k0)
        self.bz0_levels = np.ascontiguousarray(products.bz0)  # (m0, k0, p+1)
        self._zz0 = to_component_major(products.zz0)  # (k0, k0, m0)
        self._bz0 = to_component_major(products.bz0)  # (k0, p+1, m0)
        self._bd_indptr = np.arange(0, m0 * k0 * k0 + 1, k0)
        self._bd_indices = (
            np.arange(m0)[:, None, None] * k0
            + np.zeros((1, k0, 1), dtype=np.int64)
            + np.arange(k0)[None, None, :]
        ).ravel()
        self._tail_offsets = np.cumsum([0] + [m * k for m, k in tail_shapes])
        if products.zt0 is not None:
            zt0 = products.zt0.tocsr()
            self._zt0 = zt0
            # k0 = 1: the product scales columns, so keep the column of every stored entry.
            self._zt0_col = zt0.indices
            self._zt0_t = zt0.T.tocsr()
            self._gram = WeightedGram(zt0) if k0 == 1 else None

    def with_products(self, products: CrossProducts) -> Workspace:
        """The workspace of the same design with other response blocks (``Z'Wy``,
        ``X'Wy``, ``y'Wy``): what depends on Z and X alone (the sparse tail products, the
        Gram kernel's symbolic phase) is shared."""
        new = copy.copy(self)
        new.products = products
        new.zz0_levels = self.zz0_levels
        new.bz0_levels = np.ascontiguousarray(products.bz0)
        new._bz0 = to_component_major(products.bz0)
        return new

    # -- Lambda_T, the tail's relative covariance factor --------------------------------
    def _lambda_t_left(self, templates: tuple[np.ndarray, ...], M: np.ndarray) -> np.ndarray:
        """Lambda_T' M for a dense M with q_T rows."""
        out = np.empty_like(M)
        if len(self.tail_shapes) == 1 and self.tail_shapes[0][1] == 1:
            scaled: np.ndarray = templates[0][0, 0] * M
            return scaled
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

    @property
    def small(self) -> bool:
        """True when every dense block is small (a tail of at most ``SMALL_DENSE`` columns
        and as many fixed effects): a BLAS thread pool only costs time then."""
        q_t = 0 if self.products.ztt is None else self.products.ztt.shape[0]
        return q_t <= SMALL_DENSE and self.p <= SMALL_DENSE

    @property
    def uses_threads(self) -> bool:
        """True when each factorization runs part of its work on a thread pool."""
        gram = getattr(self, "_gram", None)
        return gram is not None and gram.threaded

    def blockdiag(self, blocks: np.ndarray) -> sp.csr_matrix:
        """The first factor's ``(k, k, m)`` component-major stack as a sparse matrix."""
        k, _, m = blocks.shape
        data = to_level_major(blocks).ravel()
        indptr = np.arange(0, m * k * k + 1, k)
        indices = (
            np.arange(m)[:, None, None] * k
            + np.zeros((1, k, 1), dtype=np.int64)
            + np.arange(k)[None, None, :]
        ).ravel()
        return sp.csr_matrix((data, indices, indptr), shape=(m * k, m * k))

    def factorize(self, templates: list[np.ndarray]) -> Factorization:
        """Blocked Cholesky factor for the covariance templates ``T_b`` of each factor."""
        A = self.products
        T0 = templates[0]
        k0 = T0.shape[0]
        p1 = self.p + 1
        if k0 == 1:
            t = T0[0, 0]
            L0 = np.sqrt(t * t * self._zz0 + 1.0)
            G = t / L0
            logdet_z = 2.0 * float(np.sum(np.log(L0[0, 0])))
            LB0 = multiply_blocks(self._bz0, G, transpose_a=True)  # (p+1, 1, m0)
        else:
            # level-major (m0, k0, k0) stacks here: a few batched products
            M0 = np.matmul(np.matmul(T0.T, self.zz0_levels), T0)
            M0 += np.eye(k0)
            L0_levels = np.linalg.cholesky(M0)
            L0 = to_component_major(L0_levels)
            Linv = to_level_major(inverse_lower_blocks(L0))
            G_levels = np.matmul(T0, Linv.transpose(0, 2, 1))  # T0 L0^{-T}
            G = to_component_major(G_levels)
            logdet_z = 2.0 * float(np.sum(np.log(np.diagonal(L0_levels, axis1=1, axis2=2))))
            LB0_levels = np.matmul(self.bz0_levels.transpose(0, 2, 1), G_levels)  # (m0, p+1, k0)
            LB0 = np.ascontiguousarray(LB0_levels.transpose(1, 2, 0))  # (p+1, k0, m0)
        flat = LB0.reshape(p1, -1)
        BB = A.bb - flat @ flat.T
        LTT = LBT = None
        if A.zt0 is not None:
            tail_templates = tuple(templates[1:])
            if k0 == 1:
                w = G[0, 0] ** 2
                assert self._gram is not None and A.ztt is not None
                D = self._gram.subtract_from(A.ztt, w)
                W_bz0 = (self._bz0[0] * w).T
            else:
                W = multiply_blocks(G, G, transpose_b=True)
                D = A.ztt - (self._zt0 @ self.blockdiag(W) @ self._zt0_t).toarray()
                W_bz0 = to_level_major(multiply_blocks(W, self._bz0)).reshape(-1, p1)
            D = self._lambda_t_left(tail_templates, D)
            D = self._lambda_t_left(tail_templates, np.ascontiguousarray(D.T))
            D[np.diag_indices_from(D)] += 1.0
            LTT = scipy.linalg.cholesky(D, lower=True, check_finite=False)
            logdet_z += 2.0 * float(np.sum(np.log(np.diag(LTT))))
            V = self._zt0 @ W_bz0
            R = self._lambda_t_left(tail_templates, A.bzt - V)
            LBT = scipy.linalg.solve_triangular(LTT, R, lower=True, check_finite=False).T
            BB = BB - LBT @ LBT.T
        LBB = cholesky_lower(BB)
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
