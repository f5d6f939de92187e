"""Small dense kernels called straight through LAPACK.

The fixed-effects block of a fit is ``(p + 1) x (p + 1)`` and is factorized at every
theta, and a GLMM factors the same dense blocks thousands of times. scipy's wrappers
(``cholesky``, ``solve_triangular``) spend tens of microseconds checking and converting
their arguments, more than the arithmetic of such a block, and a solve with a matrix
right-hand side goes through the level-3 BLAS, which a multi-threaded OpenBLAS runs on a
thread pool: with the other core busy that one call took milliseconds. These functions
call the LAPACK routines directly (``potrf``, ``trtrs``, ``trtri``), which compute the same
factors without those costs.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

__all__ = ["cholesky_lower", "inverse_lower", "solve_lower"]


def cholesky_lower(A: np.ndarray, overwrite: bool = False) -> np.ndarray:
    """Lower Cholesky factor of a symmetric positive-definite ``A`` (lower triangle read).

    With ``overwrite`` a Fortran-ordered ``A`` becomes the factor (no copy is made).

    Raises
    ------
    numpy.linalg.LinAlgError
        If ``A`` is not positive definite (or not finite).
    """
    if A.shape[0] == 0:
        return np.zeros((0, 0))
    L, info = lapack.dpotrf(A, lower=1, clean=1, overwrite_a=int(overwrite))
    if info != 0:
        raise np.linalg.LinAlgError(f"the matrix is not positive definite (potrf info {info})")
    out: np.ndarray = L
    return out


def solve_lower(L: np.ndarray, b: np.ndarray, transpose: bool = False) -> np.ndarray:
    """``L^{-1} b`` (or ``L^{-T} b`` with ``transpose``) for a lower-triangular ``L``."""
    if L.shape[0] == 0:
        return np.array(b, dtype=np.float64)
    x, info = lapack.dtrtrs(L, b, lower=1, trans=1 if transpose else 0)
    if info != 0:
        raise np.linalg.LinAlgError(f"the triangular factor is singular (trtrs info {info})")
    out: np.ndarray = x
    return out


def inverse_lower(L: np.ndarray) -> np.ndarray:
    """``L^{-1}`` of a lower-triangular ``L`` (lower triangular itself)."""
    if L.shape[0] == 0:
        return np.zeros((0, 0))
    inv, info = lapack.dtrtri(L, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"the triangular factor is singular (trtri info {info})")
    out: np.ndarray = np.tril(inv)
    return out
