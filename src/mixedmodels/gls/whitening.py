"""The whitening of the rows by the residual structures: ``L_i^{-1}`` applied group by
group, ``L_i`` the Cholesky factor of ``D_i R_i D_i`` (``R_i`` the correlation
structure's matrix, ``D_i`` the variance function's SD multipliers), with the total
log-determinant ``sum_i log|D_i R_i D_i|``.

Two ways: the autoregressions (``corAR1``, ``corCAR1``) are Markov, so in time order each
row is whitened from the row before it alone, ``(z_t - Phi^dt z_{t-1}) / sqrt(1 - Phi^(2 dt))``
with ``z = D^{-1} x`` (O(n), any group size); every other structure factors its groups,
those of one size together as a batch of dense ``m x m`` matrices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mixedmodels.gls.structures import BoundCorrelation, BoundVariance

__all__ = ["Whitener", "Whitening"]


@dataclass(frozen=True)
class Whitening:
    """The whitening at one value of the structure parameters."""

    multipliers: np.ndarray
    """Each row's SD multiplier (``D``)."""
    factors: list[np.ndarray]
    """Per batch of groups, their Cholesky factors of ``R`` ``(G, m, m)`` (dense way)."""
    previous_weight: np.ndarray | None
    """Per row, ``Phi^dt`` of the row before it in time (0 for a group's first row)."""
    scale: np.ndarray | None
    """Per row, ``sqrt(1 - Phi^(2 dt))`` (1 for a group's first row)."""
    logdet: float
    """``sum_i log|D_i R_i D_i|``."""


class Whitener:
    """The rows' groups and structures, and the whitening they give at any parameters.

    Parameters
    ----------
    codes : numpy.ndarray
        Each row's group (of the correlation structure; each row alone without one).
    correlation, variance : BoundCorrelation or BoundVariance, optional
    """

    def __init__(
        self,
        codes: np.ndarray,
        correlation: BoundCorrelation | None,
        variance: BoundVariance | None,
    ) -> None:
        self.correlation, self.variance = correlation, variance
        self.n = codes.size
        self.n_corr = 0 if correlation is None else correlation.structure.n_params(correlation)
        self.markov = correlation is not None and correlation.structure.markov
        self.batches: list[np.ndarray] = []
        if correlation is None:
            return
        if self.markov:
            # rows in time order within their groups: each row's predecessor and the gap
            order = np.lexsort((correlation.times, codes))
            first = np.ones(self.n, dtype=bool)
            first[1:] = codes[order][1:] != codes[order][:-1]
            self.previous = np.full(self.n, -1)
            self.previous[order[~first]] = order[np.flatnonzero(~first) - 1]
            self.gap = np.zeros(self.n)
            has = self.previous >= 0
            self.gap[has] = correlation.times[has] - correlation.times[self.previous[has]]
            return
        order = np.argsort(codes, kind="stable")
        groups = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)
        sizes = np.array([g.size for g in groups])
        self.batches = [
            np.stack([groups[i] for i in np.flatnonzero(sizes == m)]) for m in np.unique(sizes)
        ]

    @property
    def largest_group(self) -> int:
        """Rows of the largest group the dense way factors (0 for the Markov way)."""
        return max((b.shape[1] for b in self.batches), default=0)

    def start(self) -> np.ndarray:
        """The structure parameters' start (unconstrained scale)."""
        parts = []
        if self.correlation is not None:
            parts.append(self.correlation.structure.start(self.correlation))
        if self.variance is not None:
            parts.append(self.variance.start())
        return np.concatenate(parts) if parts else np.zeros(0)

    def at(self, params: np.ndarray) -> Whitening:
        """The whitening at ``params`` (correlation parameters first)."""
        corr, var = params[: self.n_corr], params[self.n_corr :]
        mult = np.ones(self.n) if self.variance is None else self.variance.multipliers(var)
        logdet = 2.0 * float(np.sum(np.log(mult)))
        if self.correlation is None:
            return Whitening(mult, [], None, None, logdet)
        bound = self.correlation
        if self.markov:
            phi = bound.structure.phi(corr)
            has = self.previous >= 0
            weight = np.where(has, phi ** np.where(has, self.gap, 0.0), 0.0)
            scale = np.sqrt(1.0 - weight * weight)
            logdet += 2.0 * float(np.sum(np.log(scale)))
            return Whitening(mult, [], weight, scale, logdet)
        factors = []
        for rows in self.batches:
            L = np.linalg.cholesky(bound.structure.matrices(bound.times[rows], corr, bound))
            factors.append(L)
            logdet += 2.0 * float(np.sum(np.log(np.diagonal(L, axis1=1, axis2=2))))
        return Whitening(mult, factors, None, None, logdet)

    def apply(self, w: Whitening, M: np.ndarray) -> np.ndarray:
        """``L^{-1} M`` group by group (``M`` is ``(n,)`` or ``(n, k)``)."""
        flat = M.ndim == 1
        A = M[:, None] if flat else M
        z = A / w.multipliers[:, None]
        if self.correlation is None:
            out = z
        elif self.markov:
            assert w.previous_weight is not None and w.scale is not None
            before = np.where((self.previous >= 0)[:, None], z[np.maximum(self.previous, 0)], 0.0)
            out = (z - w.previous_weight[:, None] * before) / w.scale[:, None]
        else:
            out = np.empty_like(z)
            for rows, L in zip(self.batches, w.factors, strict=True):
                out[rows] = np.linalg.solve(L, z[rows])
        result: np.ndarray = out[:, 0] if flat else out
        return result

    def matrix(self, w: Whitening) -> sp.csr_matrix:
        """The whitening as a sparse ``(n, n)`` matrix ``W`` (``W M`` is :meth:`apply`):
        two entries a row for the autoregressions, a group's lower triangle otherwise.
        It whitens matrices whose rows mix levels, a crossed factor's columns of Z."""
        n = self.n
        diagonal = np.arange(n)
        if self.correlation is None:
            return sp.csr_matrix((1.0 / w.multipliers, (diagonal, diagonal)), shape=(n, n))
        if self.markov:
            assert w.previous_weight is not None and w.scale is not None
            has = np.flatnonzero(self.previous >= 0)
            before = self.previous[has]
            rows = np.concatenate([diagonal, has])
            cols = np.concatenate([diagonal, before])
            values = np.concatenate(
                [
                    1.0 / (w.scale * w.multipliers),
                    -w.previous_weight[has] / (w.scale[has] * w.multipliers[before]),
                ]
            )
            return sp.csr_matrix((values, (rows, cols)), shape=(n, n))
        parts_r, parts_c, parts_v = [], [], []
        for rows_of, L in zip(self.batches, w.factors, strict=True):
            m = rows_of.shape[1]
            inverse = np.linalg.solve(L, np.broadcast_to(np.eye(m), L.shape))
            inverse = inverse / w.multipliers[rows_of][:, None, :]
            lower = np.tril_indices(m)
            parts_r.append(rows_of[:, lower[0]].ravel())
            parts_c.append(rows_of[:, lower[1]].ravel())
            parts_v.append(inverse[:, lower[0], lower[1]].ravel())
        return sp.csr_matrix(
            (np.concatenate(parts_v), (np.concatenate(parts_r), np.concatenate(parts_c))),
            shape=(n, n),
        )
