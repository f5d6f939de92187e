"""PairMap: the lower triangle of ``Z diag(w) Z'`` on its fixed pattern, as one sparse map.

Entry ``(i, j)`` of the product is ``sum_l Z[i, l] Z[j, l] w[l]``: a fixed sparse matrix
``F`` (one row per column l of Z, one column per position ``i >= j`` of the pattern, the
value ``Z[i, l] Z[j, l]``) applied to w. Read the other way, ``F`` gives the quadratic forms
``z_l' H z_l`` of the columns of Z for a symmetric H known on the pattern. Both are one
sparse matrix-vector product over ``sum_l n_l (n_l + 1) / 2`` stored entries (``n_l``:
the non-zeros of column l), half the work of a general sparse product of Z and Z' and
without its bookkeeping; the map is kept only while that count is moderate.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from mixedmodels.linalg import packed

__all__ = ["MAX_PAIRS", "PairMap", "pair_count"]

#: Most stored entries of a map (about 12 bytes each): 4M is 48 MB. Above it the Gram
#: product is formed by the sparse kernel at each evaluation instead.
MAX_PAIRS = 4_000_000
#: Orders up to which the pattern is found with a dense ``q x q`` table (4 bytes an entry)
#: rather than by sorting the pairs.
TABLE_MAX_ORDER = 4096


def pair_count(Z: sp.csr_matrix) -> int:
    """``sum_l n_l (n_l + 1) / 2`` over the columns of Z: the entries of its map."""
    counts = np.diff(sp.csc_matrix(Z).indptr).astype(np.int64)
    return int(np.sum(counts * (counts + 1) // 2))


class PairMap:
    """The map of ``Z diag(w) Z'`` for one sparse ``Z`` of shape ``(q, m)``.

    Parameters
    ----------
    Z : scipy.sparse.csr_matrix
        Its stored zeros are dropped.
    extra : scipy.sparse.csr_matrix, optional
        A ``q x q`` matrix whose lower-triangle positions join the pattern (with the
        diagonal, which always does).

    Attributes
    ----------
    rows, cols : numpy.ndarray
        The pattern's positions, ``rows >= cols``, sorted by row then column.
    off_diagonal : numpy.ndarray
        Whether each position lies off the diagonal (it then stands for two entries).
    diagonal : numpy.ndarray
        The pattern index of every diagonal position ``(i, i)``, in the order of i.
    order : numpy.ndarray
        The columns of Z in the order of the rows of ``forms``.
    forms : scipy.sparse.csr_matrix
        The map itself, ``(m, size)``.
    """

    def __init__(self, Z: sp.csr_matrix, extra: sp.csr_matrix | None = None) -> None:
        Zc = sp.csc_matrix(Z, copy=True)
        Zc.eliminate_zeros()
        Zc.sort_indices()
        q, m = Zc.shape
        self.q, self.m = q, m
        counts = np.diff(Zc.indptr).astype(np.int64)
        # columns with the same count share one triangle of index pairs: taken grouped
        # by count, the map's rows follow ``order``
        self.order = np.argsort(counts, kind="stable")
        counts = counts[self.order]
        sizes = counts * (counts + 1) // 2
        total = int(sizes.sum())
        index = np.int32 if max(Zc.nnz, total) < 2**31 else np.int64
        starts = Zc.indptr[:-1][self.order].astype(index)
        key_type = np.int32 if q * q < 2**31 else np.int64
        keys = np.empty(total, dtype=key_type)
        indicators = bool(np.all(Zc.data == 1.0))  # an intercept term's: every product is 1
        values = np.ones(total) if indicators else np.empty(total)
        at = 0
        bounds = np.flatnonzero(np.diff(counts)) + 1
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, m], strict=True):
            c = int(counts[lo])
            if c == 0:
                continue
            ia, ib = np.tril_indices(c)  # a >= b, so the rows (sorted) have i >= j
            n = (hi - lo) * ia.size
            # the group's columns as an (columns, c) block, read once; its pairs are
            # gathered from that small block rather than from Z's whole arrays
            entries: np.ndarray = np.add.outer(starts[lo:hi], np.arange(c, dtype=index))
            rows_of: np.ndarray = Zc.indices[entries].astype(key_type)
            block: np.ndarray = keys[at : at + n].reshape(hi - lo, ia.size)
            np.multiply(rows_of[:, ia], key_type(q), out=block)
            np.add(block, rows_of[:, ib], out=block)
            if not indicators:
                entry_values: np.ndarray = Zc.data[entries]
                np.multiply(
                    entry_values[:, ia],
                    entry_values[:, ib],
                    out=values[at : at + n].reshape(hi - lo, ia.size),
                )
            at += n
        own = [np.arange(q, dtype=np.int64) * (q + 1)]
        if extra is not None:
            coo = sp.coo_matrix(extra)
            lower = coo.row >= coo.col
            own.append(coo.row[lower].astype(np.int64) * q + coo.col[lower])
        column, used = _pattern(keys, np.concatenate(own), q)
        # positions as int32 where they fit: the pattern of a dense tail of 2,000 levels
        # has 2M positions, and each byte per position is 2 MB kept for the whole fit
        level_type = np.int32 if q < 2**31 else np.int64
        self.rows: npt.NDArray[np.signedinteger[Any]] = (used // q).astype(level_type)
        self.cols: npt.NDArray[np.signedinteger[Any]] = (used % q).astype(level_type)
        self.size = int(used.size)
        self.off_diagonal = self.rows != self.cols
        self.diagonal = np.flatnonzero(~self.off_diagonal)
        del used
        indptr = np.concatenate([[0], np.cumsum(sizes)])
        data: np.ndarray = values
        self.forms: sp.csr_matrix = sp.csr_matrix(
            (data, column.astype(index, copy=False), indptr), shape=(m, self.size)
        )
        self._gram = self.forms.T  # a CSC view: its products need no transposed copy

    @functools.cached_property
    def packed_at(self) -> np.ndarray:
        """Each position's offset in the packed lower triangle of a ``q x q`` matrix
        (:mod:`mixedmodels.linalg.packed`), made when a dense tail first asks."""
        out: np.ndarray = packed.offsets(self.q, self.rows, self.cols)
        return out.astype(self._offset_type)

    @property
    def _offset_type(self) -> type[np.signedinteger]:
        return np.int32 if packed.size(self.q) < 2**31 else np.int64

    @property
    def packed_bytes(self) -> int:
        """Memory :attr:`packed_at` takes (or will)."""
        return int(np.dtype(self._offset_type).itemsize * self.size)

    def gram(self, w: np.ndarray) -> np.ndarray:
        """``Z diag(w) Z'`` at every position of the pattern."""
        out: np.ndarray = self._gram @ w[self.order]
        return out

    def quadratic_forms(self, h: np.ndarray, overwrite: bool = False) -> np.ndarray:
        """``z_l' H z_l`` for every column l, from ``h``: a symmetric H at the pattern's
        positions (an off-diagonal position stands for two entries); with ``overwrite``,
        ``h`` is used for the doubled entries (a copy less of the pattern's size)."""
        on_diagonal = h[self.diagonal]
        doubled = np.multiply(h, 2.0, out=h if overwrite else None)
        doubled[self.diagonal] = on_diagonal
        out = np.empty(self.m)
        out[self.order] = self.forms @ doubled
        return out

    @property
    def bytes(self) -> int:
        """Memory the map keeps (beside :attr:`packed_at`, :attr:`packed_bytes`)."""
        per_position = self.rows.itemsize + self.cols.itemsize + 1
        return int(
            self.forms.data.nbytes
            + self.forms.indices.nbytes
            + per_position * self.size
            + self.diagonal.nbytes
        )

    def lookup(self, A: np.ndarray | sp.csr_matrix) -> np.ndarray:
        """The entries of a ``q x q`` array, dense or CSR, at the pattern's positions."""
        if isinstance(A, np.ndarray):
            out: np.ndarray = A[self.rows, self.cols]
            return out
        picked = A[self.rows, self.cols]  # CSR takes index arrays
        return np.asarray(picked, dtype=np.float64).ravel()


def _pattern(keys: np.ndarray, own: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct positions (int64) of ``keys`` and ``own``, and the index among
    them of every key."""
    if q <= TABLE_MAX_ORDER:
        seen = np.zeros(q * q, dtype=bool)
        seen[keys] = True
        seen[own] = True
        used = np.flatnonzero(seen)
        where = np.empty(q * q, dtype=np.int32)
        where[used] = np.arange(used.size, dtype=np.int32)
        return where[keys], used
    used = np.unique(np.concatenate([keys, own]))
    return np.searchsorted(used, keys), used
