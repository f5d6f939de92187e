"""WeightedGram: ``Z diag(w) Z'`` for a fixed sparse Z and a weight vector that changes.

In a crossed model this product (Z: the tail factor's levels against the first factor's
levels) is the costliest step of every theta. Its sparsity pattern never changes, so the
symbolic phase of the sparse product runs once and each evaluation only redoes the
numeric phase, writing straight into a dense array.
"""

from __future__ import annotations

import importlib
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


class WeightedGram:
    """Repeated ``Z diag(w) Z'`` (dense result) for one sparse ``Z``.

    Parameters
    ----------
    Z : scipy.sparse matrix
        Shape ``(r, c)``.
    """

    def __init__(self, Z: sp.csr_matrix) -> None:
        self.Z = sp.csr_matrix(Z)
        self.Z.sum_duplicates()
        self.Zt = self.Z.T.tocsr()
        self.shape = (self.Z.shape[0], self.Z.shape[0])
        self._flat: np.ndarray = np.zeros(0, dtype=np.int64)
        self._fast = False
        if _HAVE_KERNELS:
            try:
                self._prepare()
                self._fast = True
            except (TypeError, ValueError, AttributeError):  # pragma: no cover
                self._fast = False

    def _prepare(self) -> None:
        r = self.Z.shape[0]
        idx = np.int32 if max(self.Z.nnz, r * r) < 2**31 else np.int64
        self._Ap = self.Z.indptr.astype(idx)
        self._Aj = self.Z.indices.astype(idx)
        self._Bp = self.Zt.indptr.astype(idx)
        self._Bj = self.Zt.indices.astype(idx)
        nnz = _kernels.csr_matmat_maxnnz(r, r, self._Ap, self._Aj, self._Bp, self._Bj)
        self._Cp = np.empty(r + 1, dtype=idx)
        self._Cj = np.empty(nnz, dtype=idx)
        self._Cx = np.empty(nnz)
        self._numeric(np.ones(self.Z.shape[1]))
        used = int(self._Cp[-1])
        self._Cj = self._Cj[:used].copy()
        self._Cx = self._Cx[:used].copy()
        rows = np.repeat(np.arange(r), np.diff(self._Cp))
        self._flat = rows * r + self._Cj

    def _numeric(self, w: np.ndarray) -> None:
        r = self.Z.shape[0]
        data = self.Z.data * w[self.Z.indices]
        _kernels.csr_matmat(
            r,
            r,
            self._Ap,
            self._Aj,
            data,
            self._Bp,
            self._Bj,
            self.Zt.data,
            self._Cp,
            self._Cj,
            self._Cx,
        )

    def subtract_from(self, dense: np.ndarray, w: np.ndarray) -> np.ndarray:
        """``dense - Z diag(w) Z'`` as a new dense array."""
        if not self._fast:
            product = self.Z.multiply(w[None, :]).tocsr() @ self.Zt
            return np.asarray(dense - product.toarray(), dtype=np.float64)
        self._numeric(w)
        out: np.ndarray = np.array(dense, dtype=np.float64, copy=True)
        flat = out.reshape(-1)
        flat[self._flat] -= self._Cx
        return out

    def product(self, w: np.ndarray) -> np.ndarray:
        """``Z diag(w) Z'`` as a dense array."""
        out: np.ndarray = -self.subtract_from(np.zeros(self.shape), w)
        return out
