"""WeightedGram: ``Z diag(w) Z'`` for a fixed sparse Z and a weight vector that changes.

In a crossed model this product (Z: the tail factor's levels against the first factor's
levels) is the costliest step of every theta. Its sparsity pattern never changes, so the
symbolic phase of the sparse product runs once and each evaluation only redoes the
numeric phase, writing straight into a dense array. Large products are split by rows
over two threads (scipy's compiled kernel releases the GIL).
"""

from __future__ import annotations

import importlib
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["WeightedGram"]

_kernels: Any
try:  # scipy's compiled sparse kernels; the public product is the fallback
    _kernels = importlib.import_module("scipy.sparse._sparsetools")
    _HAVE_KERNELS = hasattr(_kernels, "csr_matmat") and hasattr(_kernels, "csr_matmat_maxnnz")
except ImportError:  # pragma: no cover - depends on the scipy build
    _kernels = None
    _HAVE_KERNELS = False

#: Products with fewer stored entries in Z than this run in one piece.
THREAD_MIN_NNZ = 200_000
#: A Z that stores at least this share of its entries, and has at most DENSE_MAX_ENTRIES
#: entries, is multiplied as a dense array (BLAS beats the sparse kernel by far there).
DENSE_MIN_SHARE = 0.25
DENSE_MAX_ENTRIES = 2_000_000

_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1))
    return _POOL


class _RowSlab:
    """The numeric phase of ``Z[rows] diag(w) Z'`` with its pattern fixed."""

    def __init__(self, Z: sp.csr_matrix, Zt: sp.csr_matrix, start: int, stop: int) -> None:
        part = Z[start:stop]
        n_rows, n_cols = part.shape[0], Zt.shape[1]
        idx = np.int32 if max(part.nnz, n_rows * n_cols, Zt.nnz) < 2**31 else np.int64
        self.shape = (n_rows, n_cols)
        self.data = part.data
        self.cols = part.indices
        self.Ap = part.indptr.astype(idx)
        self.Aj = part.indices.astype(idx)
        self.Bp = Zt.indptr.astype(idx)
        self.Bj = Zt.indices.astype(idx)
        self.Bx = Zt.data
        self.start = start
        self.span = (int(Z.indptr[start]), int(Z.indptr[stop]))
        nnz = _kernels.csr_matmat_maxnnz(n_rows, n_cols, self.Ap, self.Aj, self.Bp, self.Bj)
        # full-size buffers for every run: the kernel leaves out entries whose sum is
        # exactly 0 (a zero weight, or values that cancel), so a run may store fewer
        # entries, in other places, than the run that fixed the pattern
        self.Cp = np.empty(n_rows + 1, dtype=idx)
        self.Cj = np.empty(nnz, dtype=idx)
        self.Cx = np.empty(nnz)
        self.run(np.ones(Z.shape[1]))
        self.used = int(self.Cp[-1])
        self.pattern = self.Cj[: self.used].copy()
        self.flat = self._flat()

    def run(self, w: np.ndarray, values: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """The numeric phase; ``values`` replace Z's stored values (in Z's and in Z''s
        order)."""
        n_rows, n_cols = self.shape
        if values is None:
            data, Bx = self.data, self.Bx
        else:
            data, Bx = values[0][self.span[0] : self.span[1]], values[1]
        _kernels.csr_matmat(
            n_rows,
            n_cols,
            self.Ap,
            self.Aj,
            data * w[self.cols],
            self.Bp,
            self.Bj,
            Bx,
            self.Cp,
            self.Cj,
            self.Cx,
        )

    def _flat(self) -> np.ndarray:
        """Positions in the dense result of the entries the last run stored."""
        n_rows, n_cols = self.shape
        rows = np.repeat(np.arange(self.start, self.start + n_rows), np.diff(self.Cp))
        flat: np.ndarray = rows * n_cols + self.Cj[: int(self.Cp[-1])]
        return flat

    def entries(self) -> tuple[np.ndarray, np.ndarray]:
        """Where the last run's entries go in the dense result, and their values."""
        used = int(self.Cp[-1])
        if used == self.used and np.array_equal(self.Cj[:used], self.pattern):
            return self.flat, self.Cx[:used]
        return self._flat(), self.Cx[:used]


class WeightedGram:
    """Repeated ``Z diag(w) Z'`` (dense result) for one sparse ``Z``.

    Parameters
    ----------
    Z : scipy.sparse.csr_matrix
        Shape ``(r, c)``.
    dense : bool, optional
        Multiply Z as a dense array (True) or with the sparse kernel (False); by default
        dense when Z stores at least ``DENSE_MIN_SHARE`` of at most ``DENSE_MAX_ENTRIES``
        entries.
    """

    def __init__(self, Z: sp.csr_matrix, dense: bool | None = None) -> None:
        self.Z = sp.csr_matrix(Z)
        self.Z.sum_duplicates()
        self.Zt = self.Z.T.tocsr()
        self.shape = (self.Z.shape[0], self.Z.shape[0])
        # where each stored value of Z' comes from in Z's storage
        order = sp.csr_matrix(
            (np.arange(self.Z.nnz, dtype=np.float64), self.Z.indices, self.Z.indptr),
            shape=self.Z.shape,
        )
        self._transpose_order = order.T.tocsr().data.astype(np.int64)
        self._slabs: list[_RowSlab] = []
        self._cuts: list[int] = []  # the slabs' row boundaries, built on first use
        r, c = self.Z.shape
        entries = r * c
        self._dense_at: np.ndarray | None = None  # where Z's stored values go in dense Z
        if dense is None:
            dense = 0 < entries <= DENSE_MAX_ENTRIES and self.Z.nnz >= DENSE_MIN_SHARE * entries
        if dense:
            rows = np.repeat(np.arange(r, dtype=np.int64), np.diff(self.Z.indptr))
            self._dense_at = rows * c + self.Z.indices
            self._dense = self._densify(self.Z.data)
        elif _HAVE_KERNELS:
            pieces = 2 if self.Z.nnz >= THREAD_MIN_NNZ and (os.cpu_count() or 1) > 1 else 1
            self._cuts = self._balanced_cuts(pieces)

    def _ready_slabs(self) -> list[_RowSlab]:
        """The slabs, built by the first product that needs them: their buffers hold the
        whole product (35 MB for a tail of 2,000 levels), and a caller that has its own
        map of the product (a dense tail's pair map) never asks for them."""
        if self._cuts and not self._slabs:
            r = self.Z.shape[0]
            cuts = self._cuts
            try:
                self._slabs = [
                    _RowSlab(self.Z, self.Zt, a, b)
                    for a, b in zip(cuts[:-1], cuts[1:], strict=True)
                    if b > a or r == 0
                ]
            except (TypeError, ValueError, AttributeError):  # pragma: no cover
                self._slabs = []
            self._cuts = cuts if self._slabs else []
        return self._slabs

    def _run_slabs(self, w: np.ndarray, values: np.ndarray | None) -> list[_RowSlab]:
        """The numeric phase in every slab (on the thread pool when there are several);
        the slabs, or none when the compiled kernels are not used."""
        slabs = self._ready_slabs()
        pair = None if values is None else (values, self.transposed_values(values))
        if len(slabs) > 1:
            list(_pool().map(lambda slab: slab.run(w, pair), slabs))
        elif slabs:
            slabs[0].run(w, pair)
        return slabs

    @property
    def threaded(self) -> bool:
        """True when the product is split over threads."""
        return len(self._cuts) > 2

    def _balanced_cuts(self, pieces: int) -> list[int]:
        """Row boundaries that give each piece about the same work."""
        r = self.Z.shape[0]
        if pieces == 1 or r < 2:
            return [0, r]
        col_nnz = np.diff(self.Zt.indptr)
        work = np.cumsum(np.asarray(self.Z @ col_nnz).ravel())  # per row: sum of col sizes
        cut = int(np.searchsorted(work, work[-1] / 2)) + 1
        return [0, min(max(cut, 1), r - 1), r]

    def _densify(self, values: np.ndarray) -> np.ndarray:
        assert self._dense_at is not None
        flat = np.zeros(self.Z.shape[0] * self.Z.shape[1])
        flat[self._dense_at] = values
        return flat.reshape(self.Z.shape)

    def transposed_values(self, values: np.ndarray) -> np.ndarray:
        """Stored values of Z' for a Z with this pattern and stored ``values``."""
        out: np.ndarray = values[self._transpose_order]
        return out

    def subtract_from(
        self, dense: np.ndarray, w: np.ndarray, values: np.ndarray | None = None
    ) -> np.ndarray:
        """``dense - Z diag(w) Z'`` as a new dense array.

        ``values``, when given, replace the stored values of Z (same pattern, in Z's
        storage order): the product is then that of the reweighted Z.
        """
        if self._dense_at is not None:
            D = self._dense if values is None else self._densify(values)
            out: np.ndarray = dense - (D * w) @ D.T
            return out
        slabs = self._run_slabs(w, values)
        if not slabs:
            Z = self.Z
            if values is not None:
                Z = sp.csr_matrix((values, Z.indices, Z.indptr), shape=Z.shape)
            product = Z.multiply(w[None, :]).tocsr() @ Z.T.tocsr()
            return np.asarray(dense - product.toarray(), dtype=np.float64)
        out = np.array(dense, dtype=np.float64, copy=True)
        flat = out.reshape(-1)
        for slab in slabs:
            where, values = slab.entries()
            flat[where] -= values
        return out

    def entries(
        self, w: np.ndarray, values: np.ndarray | None = None
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """``Z diag(w) Z'`` as pieces of (flat position ``row * r + col``, value).

        A piece's position array is the same object from call to call while the
        product's pattern stays the same, so a caller may cache what it derives from it.
        """
        slabs = self._run_slabs(w, values)
        if slabs:
            return [slab.entries() for slab in slabs]
        Z = self.Z
        if values is not None:
            Z = sp.csr_matrix((values, Z.indices, Z.indptr), shape=Z.shape)
        product = sp.coo_matrix(Z.multiply(w[None, :]).tocsr() @ Z.T.tocsr())
        flat = product.row.astype(np.int64) * self.shape[0] + product.col
        return [(flat, product.data)]

    def product(self, w: np.ndarray) -> np.ndarray:
        """``Z diag(w) Z'`` as a dense array."""
        out: np.ndarray = -self.subtract_from(np.zeros(self.shape), w)
        return out
