"""Workspace: the blocked Cholesky factor L of Lambda'Z'WZ Lambda + I, updated for each theta.

Layout (Bates et al. 2015, with MixedModels.jl's block types): the first grouping factor's
diagonal block is an ``(m, k, k)`` stack; the remaining factors form one block, stored as
:mod:`mixedmodels.core.tailstorage` chooses (dense, or sparse supernodal); the
fixed-effects-and-response block ``[X y]`` is dense. The work per theta depends on the
number of levels, never on the number of rows.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from mixedmodels.core.tailstorage import TailFactor, TailKind, choose_tail
from mixedmodels.design.crossproducts import CrossProducts
from mixedmodels.design.reweight import with_values
from mixedmodels.linalg.dense import cholesky_lower
from mixedmodels.linalg.smallblocks import (
    cholesky_blocks,
    congruence,
    inverse_lower_blocks,
    multiply_blocks,
    to_component_major,
    to_level_major,
)
from mixedmodels.linalg.weightedgram import WeightedGram

__all__ = ["Workspace", "Factorization"]

#: Most fixed effects counted as small, see
#: :attr:`Workspace.small`.
SMALL_DENSE = 256
#: ... and dense tails of fewer columns than this.
SMALL_TAIL = 4000


@dataclass(frozen=True)
class Factorization:
    """L for one theta, with what the solutions need.

    ``L0`` (the first factor's Cholesky blocks) and ``G = T0 L0^{-T}`` are ``(k0, k0, m0)``
    component-major stacks; ``LB0``, the rows of ``[X y]`` below them, is
    ``(p + 1, k0, m0)``. L's block below ``L0`` is ``Lambda_T' Z_T'WZ0 blockdiag(G)``,
    kept implicit. ``tail`` is the tail's factor (of the workspace's storage kind),
    ``LBT`` the rows of ``[X y]`` below it (in the tail factor's own order) and ``LBB``
    the factor of ``[X y]``'s own block.
    """

    templates: tuple[np.ndarray, ...]
    L0: np.ndarray
    G: np.ndarray
    LB0: np.ndarray
    tail: TailFactor | None
    LBT: np.ndarray | None
    LBB: np.ndarray
    logdet_z: float
    L0_inverse: np.ndarray
    """``L0^{-1}``, blockwise, ``(k0, k0, m0)`` (the solutions and the gradient read it)."""
    schur: np.ndarray | None = None
    """When asked for: ``Z_T'WZ_T - Z_T'WZ0 blockdiag(G G') Z0'WZ_T`` before Lambda_T
    scales it (the analytic gradient reads it), dense or on the sparse kind's pattern."""


def _same_pattern(a: sp.csr_matrix, b: sp.csr_matrix) -> bool:
    """Whether two CSR matrices store the same positions in the same order."""
    if a.shape != b.shape or a.nnz != b.nnz:
        return False
    if a.indices is b.indices and a.indptr is b.indptr:
        return True
    return bool(np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices))


class Workspace:
    """The mutable state of one LMM fit: A's blocks and the tail layout.

    Parameters
    ----------
    products : CrossProducts
    tail_shapes : list of (m, k)
        Levels and coefficients of the tail factors, in order.

    Raises
    ------
    ModelTooLargeError
        When the tail's factorization would need more memory than a fit may use.
    """

    def __init__(self, products: CrossProducts, tail_shapes: list[tuple[int, int]]) -> None:
        self.products = products
        self.tail_shapes = tail_shapes
        self.n = products.n
        self.p = products.bb.shape[0] - 1
        m0, k0, _ = products.zz0.shape
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
            assert products.ztt is not None
            self.tail_kind: TailKind | None = choose_tail(
                products.ztt, zt0, tail_shapes, first_k=k0
            )
        else:
            self.tail_kind = None
        self._gram_values: np.ndarray | None = None  # Z_T'WZ0's values when reweighted

    def reweighted(self, products: CrossProducts) -> Workspace:
        """A workspace for new blocks whose Z_T'WZ0 has this one's sparsity pattern (as
        every result of one :class:`~mixedmodels.design.reweight.Reweighting` has).

        The layout, the transposition of Z_T'WZ0 and the symbolic phase of its weighted
        Gram product are shared with this workspace, not made again.
        """
        ws = self.with_products(products)
        ws._zz0 = to_component_major(products.zz0)
        if products.zt0 is not None:
            zt0 = products.zt0
            if not _same_pattern(zt0, self._zt0):
                raise ValueError("the new Z_T'WZ0 does not have this workspace's pattern")
            ws._zt0 = zt0
            t = self._zt0_t
            if self._gram is not None:
                ws._gram_values = zt0.data
                values = self._gram.transposed_values(zt0.data)
            else:
                values = self._transpose_order(zt0.data)
            ws._zt0_t = with_values(t, values)
        return ws

    def _transpose_order(self, values: np.ndarray) -> np.ndarray:
        """Stored values of Z_T'WZ0's transpose for new values of Z_T'WZ0 itself."""
        order = getattr(self, "_zt0_t_order", None)
        if order is None:
            z = self._zt0
            index = sp.csr_matrix(
                (np.arange(z.nnz, dtype=np.float64), z.indices, z.indptr), shape=z.shape
            )
            order = index.T.tocsr().data.astype(np.int64)
            self._zt0_t_order = order
        out: np.ndarray = values[order]
        return out

    def with_fixed_columns(self, columns: np.ndarray) -> Workspace:
        """The workspace of ``[X y] C`` in place of ``[X y]`` (the last column of the
        ``(p + 1) x (p' + 1)`` matrix C gives the new response), sharing everything
        that involves Z alone."""
        A = self.products
        products = replace(
            A,
            bz0=A.bz0 @ columns,
            bzt=None if A.bzt is None else A.bzt @ columns,
            bb=columns.T @ A.bb @ columns,
        )
        out = self.with_products(products)
        out.p = columns.shape[1] - 1
        return out

    def with_products(self, products: CrossProducts) -> Workspace:
        """The workspace of the same design with other response blocks (``Z'Wy``,
        ``X'Wy``, ``y'Wy``): what depends on Z and X alone (the sparse tail products, the
        Gram kernel's symbolic phase) is shared."""
        new = copy.copy(self)
        new.products = products
        new._bz0 = to_component_major(products.bz0)
        return new

    # -- Lambda_T, the tail's relative covariance factor --------------------------------
    def tail_scale(self, templates: tuple[np.ndarray, ...]) -> np.ndarray | None:
        """Lambda_T's diagonal when every tail factor is scalar (Lambda_T is then
        diagonal), else None."""
        if any(k != 1 for _, k in self.tail_shapes):
            return None
        return np.repeat([T[0, 0] for T in templates], [m for m, _ in self.tail_shapes])

    def _lambda_t_left(self, templates: tuple[np.ndarray, ...], M: np.ndarray) -> np.ndarray:
        """Lambda_T' M for a dense M with q_T rows."""
        if len(self.tail_shapes) == 1 and self.tail_shapes[0][1] == 1:
            scaled: np.ndarray = templates[0][0, 0] * M
            return scaled
        scale = self.tail_scale(templates)
        if scale is not None:
            by_row: np.ndarray = M * scale[:, None]
            return by_row
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

    def _congruence_t(self, templates: tuple[np.ndarray, ...], D: np.ndarray) -> np.ndarray:
        """Lambda_T' D Lambda_T for a symmetric dense D, as a new array."""
        scale = self.tail_scale(templates)
        if scale is None:
            D = self._lambda_t_left(templates, D)
            return self._lambda_t_left(templates, np.ascontiguousarray(D.T))
        out: np.ndarray = D * scale[:, None]
        out *= scale[None, :]
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

    def ztt_operator(self) -> np.ndarray | sp.csr_matrix:
        """Z_T'WZ_T for products with vectors: sparse when its dense array is mostly zeros
        (the tail's own block is diagonal for one factor, and crossed factors meet in few
        levels), so that a product reads its entries rather than q_T^2 of them."""
        ztt = self.products.ztt
        assert ztt is not None
        cached = self.__dict__.get("_ztt_operator")
        if cached is not None and cached[0] is ztt:
            out: np.ndarray | sp.csr_matrix = cached[1]
            return out
        out = ztt
        if isinstance(ztt, np.ndarray) and np.count_nonzero(ztt) <= 0.1 * ztt.size:
            out = sp.csr_matrix(ztt)
        self.__dict__["_ztt_operator"] = (ztt, out)
        return out

    @property
    def tail_size(self) -> int:
        """q_T, the order of the tail block (0 with one grouping factor)."""
        return int(self._tail_offsets[-1])

    @property
    def small(self) -> bool:
        """True when every dense block is small (a tail of fewer than ``SMALL_TAIL``
        columns, at most ``SMALL_DENSE`` fixed effects): a BLAS thread pool only costs time
        then. On a dense tail of a few thousand levels a second thread gains little when
        the machine is quiet and costs 10-20x when it is not (InstEval's 1,142 levels: 35
        ms a factorization on one thread, 0.7 s on two beside two other busy processes)."""
        return self.tail_size < SMALL_TAIL and self.p <= SMALL_DENSE

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

    def factorize(self, templates: list[np.ndarray], keep_schur: bool = False) -> Factorization:
        """Blocked Cholesky factor for the covariance templates ``T_b`` of each factor;
        ``keep_schur`` keeps the tail's Schur complement before scaling (for the gradient)."""
        return self._factor(templates, keep_schur, with_fixed=True)

    def random_factorize(self, templates: list[np.ndarray]) -> Factorization:
        """The factor of ``Lambda' Z'WZ Lambda + I`` alone: ``LBB`` (the fixed-effects
        block, whose pivots need not be positive for weights that are not, as a GLMM's
        observed information off the canonical link) is left NaN, and ``logdet_z`` is NaN
        when the matrix is not positive definite in the first factor's levels. Its
        log-determinant and conditional covariances are those of the full factor."""
        return self._factor(templates, False, with_fixed=False)

    def _factor(
        self, templates: list[np.ndarray], keep_schur: bool, with_fixed: bool
    ) -> Factorization:
        A = self.products
        T0 = templates[0]
        k0 = T0.shape[0]
        if k0 == 1:
            t = T0[0, 0]
            L0 = np.sqrt(t * t * self._zz0 + 1.0)
            G = t / L0
            L0_inverse = 1.0 / L0
            logdet_z = 2.0 * float(np.sum(np.log(L0[0, 0])))
        else:
            # component-major throughout: at 20k-200k levels 3-5x faster than numpy's
            # batched cholesky and matmul on (m0, k0, k0) stacks, and as fast at 18
            M0 = congruence(T0, self._zz0)
            for j in range(k0):
                M0[j, j] += 1.0
            L0 = cholesky_blocks(M0)
            L0_inverse = inverse_lower_blocks(L0)
            G = np.einsum("ac,bcm->abm", T0, L0_inverse)  # T0 L0^{-T}
            logdet_z = 2.0 * float(np.log(np.diagonal(L0)).sum())  # L0[j, j, :] for all j
        tail = schur = None
        if A.zt0 is not None:
            kind = self.tail_kind
            assert kind is not None and A.ztt is not None
            tail_templates = tuple(templates[1:])
            if k0 == 1:
                assert self._gram is not None
                D = kind.schur_gram(A.ztt, self._gram, G[0, 0] ** 2, self._gram_values)
            else:
                W = multiply_blocks(G, G, transpose_b=True)
                D = kind.schur_product(A.ztt, self._zt0 @ self.blockdiag(W) @ self._zt0_t)
            schur = D if keep_schur else None

            def lambda_congruence(D: np.ndarray) -> np.ndarray:
                return self._congruence_t(tail_templates, D)

            tail = kind.factor(D, lambda_congruence, self.tail_scale(tail_templates))
            logdet_z += tail.logdet()
        LB0, LBT, BB = self.fixed_rows(templates, G, tail, self._bz0, A.bzt, A.bb)
        LBB = cholesky_lower(BB) if with_fixed else np.full_like(BB, np.nan)
        return Factorization(
            tuple(templates), L0, G, LB0, tail, LBT, LBB, logdet_z, L0_inverse, schur
        )

    def fixed_rows(
        self,
        templates: list[np.ndarray] | tuple[np.ndarray, ...],
        G: np.ndarray,
        tail: TailFactor | None,
        bz0: np.ndarray,
        bzt: np.ndarray | None,
        bb: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """The rows of L below the random effects for the columns ``C`` whose products
        are ``bz0 = Z0'WC`` (``(k0, c, m0)``), ``bzt = Z_T'WC`` and ``bb = C'WC``, and
        what is left of ``C'WC`` after them: ``LB0`` (``(c, k0, m0)``), ``LBT`` (in the
        tail factor's order) and ``C'V^{-1}C``. ``C = [X y]`` in a factorization; other
        columns (the average information's) use the same factor."""
        k0 = G.shape[0]
        columns = bb.shape[0]
        if k0 == 1:
            LB0 = multiply_blocks(bz0, G, transpose_a=True)  # (c, 1, m0)
        else:
            LB0 = np.einsum("arm,abm->rbm", bz0, G)  # (c, k0, m0)
        flat = LB0.reshape(columns, -1)
        BB = bb - flat @ flat.T
        LBT = None
        if tail is not None:
            assert bzt is not None
            if k0 == 1:
                W_bz0 = (bz0[0] * G[0, 0] ** 2).T
            else:
                W = multiply_blocks(G, G, transpose_b=True)
                W_bz0 = to_level_major(multiply_blocks(W, bz0)).reshape(-1, columns)
            V = self._zt0 @ W_bz0
            R = self._lambda_t_left(tuple(templates[1:]), bzt - V)
            LBT = tail.solve_lower(R).T
            BB = BB - LBT @ LBT.T
        return LB0, LBT, BB

    def objective(self, fac: Factorization, reml: bool) -> float:
        """lme4's profiled deviance (ML) or REML criterion at this factorization."""
        n, p = self.n, self.p
        r2 = fac.LBB[p, p] ** 2
        dof = n - p if reml else n
        value = fac.logdet_z + dof * (1.0 + np.log(2.0 * np.pi * r2 / dof))
        if reml:
            value += 2.0 * float(np.sum(np.log(np.diag(fac.LBB)[:p])))
        return float(value - self.products.sum_log_weights)
