"""Small dense kernels called straight through LAPACK.

The fixed-effects block of a fit is ``(p + 1) x (p + 1)`` and is factorized at every
theta, and a GLMM factors the same dense blocks thousands of times. scipy's wrappers
(``cholesky``, ``solve_triangular``) spend tens of microseconds checking and converting
their arguments, more than the arithmetic of such a block, and a solve with a matrix
right-hand side goes through the level-3 BLAS, which a multi-threaded OpenBLAS runs on a
thread pool: with the other core busy that one call took milliseconds. These functions
call the LAPACK routines directly (``potrf``, ``trtrs``, ``potri``), which compute the same
factors without those costs.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

__all__ = ["cholesky_inverse", "cholesky_lower", "solve_lower"]


def cholesky_lower(A: np.ndarray, overwrite: bool = False) -> np.ndarray:
    """Lower Cholesky factor of a symmetric positive-definite ``A`` (lower triangle read);
    with ``overwrite`` a Fortran-ordered or symmetric C-ordered ``A`` may be overwritten
    (no copy of a large block).

    Raises
    ------
    numpy.linalg.LinAlgError
        If ``A`` is not positive definite (or not finite).
    """
    if A.shape[0] == 0:
        return np.zeros((0, 0))
    if overwrite and A.flags.c_contiguous and not A.flags.f_contiguous:
        A = A.T  # the same symmetric matrix, in the Fortran order LAPACK overwrites
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


def cholesky_inverse(L: np.ndarray) -> np.ndarray:
    """``(L L')^{-1}`` from a lower Cholesky factor whose strict upper triangle is zero
    (as :func:`cholesky_lower` leaves it), by ``potri``, mirrored to a full matrix."""
    if L.shape[0] == 0:
        return np.zeros((0, 0))
    lower, info = lapack.dpotri(L, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"the triangular factor is singular (potri info {info})")
    full: np.ndarray = lower + lower.T
    full.flat[:: full.shape[0] + 1] *= 0.5  # the diagonal, doubled above (exactly)
    return full
