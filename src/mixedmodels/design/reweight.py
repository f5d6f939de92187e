"""Reweighting: the blocks of A = [Z X r]' W [Z X r] for fixed Z and X, new w and r.

In a GLMM's PIRLS the sparsity pattern of every block of A stays the same from one
iteration to the next; only the working weights w and the working response r change.
Every stored entry of a block is a sum over rows of ``w_i c_i`` (the blocks of Z and X) or
of ``w_i r_i c_i`` (the blocks with r), with per-row coefficients ``c_i`` that depend on
Z and X alone. Both kinds are collected once into a sparse matrix with one row per stored
entry and one column per data row, so each reweighting is two sparse matrix-vector
products and a dot product, with no index arithmetic and no pattern to rebuild.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from mixedmodels.design.crossproducts import CrossProducts, ZTerm

__all__ = ["Reweighting", "with_values"]


def with_values(pattern: sp.csr_matrix, values: np.ndarray) -> sp.csr_matrix:
    """A CSR matrix with ``pattern``'s structure (shared, not copied) and new values.

    A shallow copy: unlike the constructor it checks nothing, which matters when it is
    done at every PIRLS step.
    """
    if values.shape != pattern.data.shape:
        raise ValueError(f"{values.size} values for a pattern of {pattern.nnz} entries")
    out = copy.copy(pattern)
    out.data = values
    return out


class _Entries:
    """Collects (entry, row, coefficient) triples and numbers the entries."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.size = 0
        self._entries: list[np.ndarray] = []
        self._rows: list[np.ndarray] = []
        self._values: list[np.ndarray] = []

    def block(self, size: int) -> int:
        """Reserve ``size`` consecutive entries; return the first."""
        start = self.size
        self.size += size
        return start

    def add(self, entries: np.ndarray, values: np.ndarray, rows: np.ndarray | None = None) -> None:
        """Row ``rows[i]`` (default: row i) adds ``values[i]`` to entry ``entries[i]``."""
        entries = np.asarray(entries, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        base = np.arange(self.n, dtype=np.int64) if rows is None else rows
        keep = values != 0.0
        if not keep.all():
            entries, base, values = entries[keep], base[keep], values[keep]
        self._entries.append(entries)
        self._rows.append(base)
        self._values.append(values)

    def matrix(self, in_order: bool = False) -> sp.csr_matrix:
        """The ``(entries, rows)`` matrix of coefficients, duplicates summed.

        ``in_order``: the (entry, row) pairs were added strictly increasing, entry first,
        so they are the CSR arrays themselves (no sort, no duplicates to sum).
        """
        if self._entries:
            entries = np.concatenate(self._entries)
            rows = np.concatenate(self._rows)
            values = np.concatenate(self._values)
        else:
            entries = rows = np.zeros(0, dtype=np.int64)
            values = np.zeros(0)
        shape = (self.size, self.n)
        if in_order:
            wide = max(self.n, entries.size) > np.iinfo(np.int32).max
            index = np.dtype(np.int64 if wide else np.int32)
            counts = np.bincount(entries, minlength=self.size)
            indptr = np.concatenate([[0], np.cumsum(counts)]).astype(index)
            return sp.csr_matrix((values, rows.astype(index), indptr), shape=shape, copy=False)
        out = sp.csr_matrix((values, (entries, rows)), shape=shape)
        out.sum_duplicates()
        return out


def _tail_columns(tail: Sequence[ZTerm]) -> tuple[list[np.ndarray], list[np.ndarray], int]:
    """For every (tail term, column): each row's index in Z_T, and the column of Z_T."""
    index: list[np.ndarray] = []
    columns: list[np.ndarray] = []
    offset = 0
    for term in tail:
        base = term.codes.astype(np.int64) * term.k + offset
        for a in range(term.k):
            index.append(base + a)
            columns.append(np.asarray(term.matrix[:, a], dtype=np.float64))
        offset += term.n_levels * term.k
    return index, columns, offset


class Reweighting:
    """The blocks of A for one Z and X, for any weights and working response.

    Parameters
    ----------
    terms : sequence of ZTerm
        The grouping factors, first the one with most levels (as for
        :func:`~mixedmodels.design.crossproducts.crossproducts`).
    X : numpy.ndarray
        ``(n, p)``, the fixed-effects columns of ``B``; ``p`` may be 0.

    Notes
    -----
    :meth:`products` with weights ``w`` and response ``r`` equals
    ``crossproducts(terms, np.column_stack([X, r]), w)`` up to the order of summation.
    The block Z_T'WZ0 keeps one sparsity pattern (that of the rows' level pairs), so
    every result can share one :class:`~mixedmodels.core.workspace.Workspace` layout.
    """

    def __init__(self, terms: Sequence[ZTerm], X: np.ndarray) -> None:
        n, p = X.shape
        self.n, self.p = n, p
        first, tail = terms[0], terms[1:]
        m0, k0 = first.n_levels, first.k
        self._m0, self._k0 = m0, k0
        Z0 = np.asarray(first.matrix, dtype=np.float64)
        X = np.asarray(X, dtype=np.float64)
        codes0 = first.codes.astype(np.int64)
        fixed, linear = _Entries(n), _Entries(n)  # entries linear in w, and in w * r

        # Z0'WZ0: its lower triangle, one (a, b) slab of m0 levels at a time
        self._pairs = [(a, b) for a in range(k0) for b in range(a + 1)]
        self._zz = fixed.block(len(self._pairs) * m0)
        for j, (a, b) in enumerate(self._pairs):
            fixed.add(self._zz + j * m0 + codes0, Z0[:, a] * Z0[:, b])
        # Z0'WX and Z0'W r
        self._bz = fixed.block(k0 * p * m0)
        self._bz_r = linear.block(k0 * m0)
        for a in range(k0):
            for c in range(p):
                fixed.add(self._bz + (a * p + c) * m0 + codes0, Z0[:, a] * X[:, c])
            linear.add(self._bz_r + a * m0 + codes0, Z0[:, a])
        # X'WX (lower triangle) and X'W r
        self._xpairs = [(c, d) for c in range(p) for d in range(c + 1)]
        self._bb = fixed.block(len(self._xpairs))
        self._bb_r = linear.block(p)
        for j, (c, d) in enumerate(self._xpairs):
            fixed.add(np.full(n, self._bb + j), X[:, c] * X[:, d])
        for c in range(p):
            linear.add(np.full(n, self._bb_r + c), X[:, c])

        self._q_t = 0
        self._zt0_pattern: sp.csr_matrix | None = None
        if tail:
            index, columns, q_t = _tail_columns(tail)
            self._q_t = q_t
            # Z_T'WZ0: its pattern is every (tail index, first-factor index) pair a row has
            z0_index = [codes0 * k0 + a for a in range(k0)]
            keys = np.concatenate([i * (m0 * k0) + j for i in index for j in z0_index])
            unique, inverse = np.unique(keys, return_inverse=True)
            row_of = unique // (m0 * k0)
            indptr = np.concatenate([[0], np.cumsum(np.bincount(row_of, minlength=q_t))])
            self._zt0_pattern = sp.csr_matrix(
                (
                    np.zeros(unique.size),
                    (unique % (m0 * k0)).astype(np.int32),
                    indptr.astype(np.int32),
                ),
                shape=(q_t, m0 * k0),
            )
            self._zt = fixed.block(unique.size)
            values = np.concatenate([z * Z0[:, a] for z in columns for a in range(k0)])
            rows = np.tile(np.arange(n, dtype=np.int64), len(columns) * k0)
            fixed.add(self._zt + inverse, values, rows)
            # Z_T'WZ_T, dense: the entries any row reaches, scattered into the square
            keys = np.concatenate([i * q_t + j for i in index for j in index])
            self._ztt_flat, inverse = np.unique(keys, return_inverse=True)
            self._ztt = fixed.block(self._ztt_flat.size)
            values = np.concatenate([zi * zj for zi in columns for zj in columns])
            rows = np.tile(np.arange(n, dtype=np.int64), len(columns) ** 2)
            fixed.add(self._ztt + inverse, values, rows)
            # Z_T'WX and Z_T'W r
            self._bzt = fixed.block(q_t * p)
            self._bzt_r = linear.block(q_t)
            for i, z in zip(index, columns, strict=True):
                for c in range(p):
                    fixed.add(self._bzt + i * p + c, z * X[:, c])
                linear.add(self._bzt_r + i, z)
        # one grouping factor whose rows are sorted by level: every block's entries are
        # added level by level, each level's rows in order
        in_order = not tail and first.starts is not None
        self._fixed = fixed.matrix(in_order)
        self._linear = linear.matrix(in_order)
        self._v = np.empty(n)  # w * r, rewritten by every call

    def products(
        self, weights: np.ndarray, response: np.ndarray, log_weights: bool = True
    ) -> CrossProducts:
        """The blocks of A for ``B = [X response]`` and these weights.

        Parameters
        ----------
        weights : numpy.ndarray
            ``(n,)``, the weights w.
        response : numpy.ndarray
            ``(n,)``, the last column of ``B``.
        log_weights : bool, default True
            Whether to compute ``sum_log_weights`` (an O(n) logarithm); when False it is
            NaN.
        """
        m0, k0, p = self._m0, self._k0, self.p
        a = self._fixed @ weights
        v = np.multiply(weights, response, out=self._v)
        b = self._linear @ v
        zz0 = np.empty((m0, k0, k0))
        for j, (r, c) in enumerate(self._pairs):
            col = a[self._zz + j * m0 : self._zz + (j + 1) * m0]
            zz0[:, r, c] = col
            zz0[:, c, r] = col
        bz0 = np.empty((m0, k0, p + 1))
        bz0[:, :, :p] = a[self._bz : self._bz + k0 * p * m0].reshape(k0, p, m0).transpose(2, 0, 1)
        bz0[:, :, p] = b[self._bz_r : self._bz_r + k0 * m0].reshape(k0, m0).T
        bb = np.empty((p + 1, p + 1))
        for j, (r, c) in enumerate(self._xpairs):
            bb[r, c] = bb[c, r] = a[self._bb + j]
        bb[p, :p] = bb[:p, p] = b[self._bb_r : self._bb_r + p]
        bb[p, p] = float(response @ v)
        zt0: sp.csr_matrix | None = None
        ztt: np.ndarray | None = None
        bzt: np.ndarray | None = None
        if self._zt0_pattern is not None:
            q_t = self._q_t
            zt0 = with_values(self._zt0_pattern, a[self._zt : self._zt + self._zt0_pattern.nnz])
            flat = np.zeros(q_t * q_t)
            flat[self._ztt_flat] = a[self._ztt : self._ztt + self._ztt_flat.size]
            ztt = flat.reshape(q_t, q_t)
            bzt = np.empty((q_t, p + 1))
            bzt[:, :p] = a[self._bzt : self._bzt + q_t * p].reshape(q_t, p)
            bzt[:, p] = b[self._bzt_r : self._bzt_r + q_t]
        slw = float(np.sum(np.log(weights[weights > 0]))) if log_weights else float("nan")
        return CrossProducts(zz0, bz0, zt0, ztt, bzt, bb, self.n, slw)
