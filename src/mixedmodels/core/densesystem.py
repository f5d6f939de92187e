"""The whole system of a small model as one dense matrix: the criterion and its gradient
from a single Cholesky factorization.

For a model whose ``q`` random effects and ``p`` fixed effects are few, the cheapest exact
storage of ``A = [Z X y]'W[Z X y]`` is one dense ``N x N`` array (``N = q + p + 1``). With
``Lambda~ = blockdiag(Lambda, I)``, the matrix

    Omega = Lambda~' A Lambda~ + blockdiag(I_q, 0, 0)

has the Cholesky factor whose diagonal carries everything the profiled criterion needs
(Bates, Maechler, Bolker and Walker 2015, *J. Stat. Softw.* 67(1), section 3): its first
``q`` entries give ``log|L|^2``, the next ``p`` give ``log|R_X|^2`` and the last is ``r``,
the square root of the penalized residual sum of squares.

The gradient follows from two identities. With ``Omega_11`` the leading ``q + p`` block,
``d log|Omega_11| = tr(Omega_11^{-1} d Omega_11)`` (REML; ``M = Omega_qq`` alone for ML),
and ``d r^2 = e' dOmega e`` with ``e = [-Omega_11^{-1} Omega_1y; 1]``. Both are traces
``tr(P dOmega)`` with a symmetric ``P``, and since only ``Lambda`` depends on theta,
``tr(P dOmega) = 2 sum_ij (A Lambda~ P)_ij dLambda_ij``. A theta element sits at the same
``(row, column)`` of every level's block of ``Lambda``, so its derivative is twice the sum
of ``K = (A Lambda~ P)_ZZ`` over those positions, with ``P`` the padded inverse plus
``(dof / r^2) e e'``. One factorization, one triangular inverse, one triangular solve and
three products give the criterion and the whole gradient: the per-call overhead of the
blocked kernels, which dominates models of a few dozen levels, is gone.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.linalg.lapack as lapack
import scipy.sparse as sp

from mixedmodels.core.covariance import ThetaMap
from mixedmodels.design.crossproducts import CrossProducts

__all__ = ["DENSE_SYSTEM_MAX", "DenseSystem"]

#: Largest ``q + p + 1`` held as one dense system for a model of one grouping factor; with
#: ``B`` factors the bound is ``DENSE_SYSTEM_MAX * sqrt(B)``. One evaluation of the dense
#: system costs about ``0.35 ns * N^3`` here (its products and factorizations are ``~4 N^3``
#: flops), the blocked kernels about 110 us for one factor and 270 us for two whatever
#: their size: the two meet near N = 60 and N = 90 (``benchmarks/small_models.md``).
DENSE_SYSTEM_MAX = 60


@dataclass(frozen=True)
class DenseSystem:
    """``A`` as one dense array with the positions of Lambda's entries.

    Attributes
    ----------
    A : numpy.ndarray
        ``(N, N)``: ``[Z X y]'W[Z X y]``, random effects first (the first factor level by
        level, then the tail in its own order), then the fixed effects, the response last.
    q, p : int
        Numbers of random and fixed effects.
    n : int
        Number of observations.
    sum_log_weights : float
    rows, cols, theta_index : numpy.ndarray
        ``Lambda[rows[i], cols[i]] = theta[theta_index[i]]``; every other entry is zero.
    n_theta : int
    """

    A: np.ndarray
    q: int
    p: int
    n: int
    sum_log_weights: float
    rows: np.ndarray
    cols: np.ndarray
    theta_index: np.ndarray
    n_theta: int

    @classmethod
    def fits(cls, products: CrossProducts, tail_shapes: tuple[tuple[int, int], ...]) -> bool:
        """True when one dense system is the cheapest exact storage of the model's blocks."""
        m0, k0, p1 = products.bz0.shape
        size = m0 * k0 + sum(m * k for m, k in tail_shapes) + p1
        return bool(size <= DENSE_SYSTEM_MAX * np.sqrt(1 + len(tail_shapes)))

    @classmethod
    def of(
        cls,
        products: CrossProducts,
        tail_shapes: tuple[tuple[int, int], ...],
        theta_map: ThetaMap,
    ) -> DenseSystem:
        """The dense system of a model's blocks (as :class:`LinearMixedModel` keeps them)."""
        m0, k0, p1 = products.bz0.shape
        q0 = m0 * k0
        q_t = sum(m * k for m, k in tail_shapes)
        q = q0 + q_t
        N = q + p1
        A = np.zeros((N, N))
        level = np.arange(m0)[:, None, None] * k0
        i0 = level + np.arange(k0)[None, :, None]
        j0 = level + np.arange(k0)[None, None, :]
        A[i0, j0] = products.zz0
        A[:q0, q:] = products.bz0.reshape(q0, p1)
        A[q:, :q0] = A[:q0, q:].T
        A[q:, q:] = products.bb
        if q_t:
            assert products.zt0 is not None and products.ztt is not None
            assert products.bzt is not None
            zt0 = products.zt0.toarray()
            ztt = products.ztt.toarray() if sp.issparse(products.ztt) else products.ztt
            A[q0:q, :q0] = zt0
            A[:q0, q0:q] = zt0.T
            A[q0:q, q0:q] = ztt
            A[q0:q, q:] = products.bzt
            A[q:, q0:q] = products.bzt.T
        # where each theta element sits in Lambda: one (row, column) per level of its block
        offsets = np.cumsum([0, q0] + [m * k for m, k in tail_shapes])
        sizes = [(m0, k0), *tail_shapes]
        rows, cols, index = [], [], []
        for t, (block, r, c) in enumerate(theta_map.position):
            m, k = sizes[int(block)]
            base = offsets[int(block)] + np.arange(m) * k
            rows.append(base + int(r))
            cols.append(base + int(c))
            index.append(np.full(m, t))
        return cls(
            A=A,
            q=q,
            p=p1 - 1,
            n=int(products.n),
            sum_log_weights=float(products.sum_log_weights),
            rows=np.concatenate(rows),
            cols=np.concatenate(cols),
            theta_index=np.concatenate(index),
            n_theta=int(theta_map.position.shape[0]),
        )

    def with_response(self, products: CrossProducts) -> DenseSystem:
        """The same system with the response blocks of ``products`` (the design's blocks
        must be this system's)."""
        m0, k0, p1 = products.bz0.shape
        q0, q, N = m0 * k0, self.q, self.A.shape[0]
        A = self.A.copy()
        A[:q0, N - 1] = products.bz0[:, :, -1].reshape(q0)
        if q > q0:
            assert products.bzt is not None
            A[q0:q, N - 1] = products.bzt[:, -1]
        A[q:, N - 1] = products.bb[:, -1]
        A[N - 1, :] = A[:, N - 1]
        return replace(
            self, A=A, n=int(products.n), sum_log_weights=float(products.sum_log_weights)
        )

    def _half_lower(self, m: int) -> np.ndarray:
        """1 below the diagonal, 0.5 on it, 0 above: an ``m x m`` mask, built once."""
        cache: dict[int, np.ndarray] = self.__dict__.setdefault("_masks", {})
        mask = cache.get(m)
        if mask is None:
            mask = np.tril(np.ones((m, m)), -1) + 0.5 * np.eye(m)
            cache[m] = mask
        return mask

    def _factor(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """``A_ZZ Lambda`` and the lower Cholesky factor of Omega, or None where Omega is
        not positive definite."""
        q, A = self.q, self.A
        lam = np.zeros((q, q))
        lam[self.rows, self.cols] = theta[self.theta_index]
        a_lam = A[:q, :q] @ lam
        omega = np.zeros_like(A)  # the upper triangle stays zero in the factor and the inverse
        omega[:q, :q] = lam.T @ a_lam
        omega[:q, :q].flat[:: q + 1] += 1.0
        omega[q:, :q] = A[q:, :q] @ lam
        omega[q:, q:] = A[q:, q:]
        L, info = lapack.dpotrf(omega, lower=1, overwrite_a=1, clean=0)
        if info != 0:
            return None
        return a_lam, L

    def _criterion(self, L: np.ndarray, reml: bool) -> tuple[float, float, int]:
        q, p = self.q, self.p
        diag = np.diagonal(L)
        r2 = float(diag[-1] ** 2)
        dof = self.n - p if reml else self.n
        logs = np.log(diag[: q + p] if reml else diag[:q])
        value = 2.0 * float(logs.sum()) + dof * (1.0 + np.log(2.0 * np.pi * r2 / dof))
        return float(value - self.sum_log_weights), r2, dof

    def objective(self, theta: np.ndarray, reml: bool) -> float:
        """lme4's profiled deviance (ML) or REML criterion; inf where it is undefined."""
        factored = self._factor(np.asarray(theta, dtype=np.float64))
        if factored is None:
            return float("inf")
        value, r2, _ = self._criterion(factored[1], reml)
        return value if r2 > 0 else float("inf")

    def objective_and_gradient(self, theta: np.ndarray, reml: bool) -> tuple[float, np.ndarray]:
        """The criterion and its gradient over theta (inf and zeros where undefined)."""
        theta = np.asarray(theta, dtype=np.float64)
        factored = self._factor(theta)
        if factored is None:
            return float("inf"), np.zeros(self.n_theta)
        a_lam, L = factored
        value, r2, dof = self._criterion(L, reml)
        if not r2 > 0:
            return float("inf"), np.zeros(self.n_theta)
        q, A = self.q, self.A
        m = q + self.p if reml else q  # the block whose log-determinant the criterion holds
        inverse, info = lapack.dpotri(L[:m, :m], lower=1)
        # Omega^{-1}'s last column is e / r^2, and it is L^{-T} e_N / r: so e = r x for
        # L'x = e_N, and (dof / r^2) e e' = dof x x'
        unit = np.zeros(A.shape[0])
        unit[-1] = 1.0
        x, info_e = lapack.dtrtrs(L, unit, lower=1, trans=1)
        if info != 0 or info_e != 0:
            return float("inf"), np.zeros(self.n_theta)
        P = np.multiply.outer(x, x * dof)
        # the inverse's lower triangle, halved on the diagonal, added with its transpose
        inverse *= self._half_lower(m)
        P[:m, :m] += inverse
        P[:m, :m] += inverse.T
        K = a_lam @ P[:q, :q] + A[:q, q:] @ P[q:, :q]
        grad = 2.0 * np.bincount(self.theta_index, K[self.rows, self.cols], minlength=self.n_theta)
        return value, grad
