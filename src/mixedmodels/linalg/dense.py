"""Dense triangular kernels called straight through LAPACK.

A GLMM factors the same small dense blocks (the tail factor, the fixed-effects block)
thousands of times; scipy.linalg's checked wrappers cost more than the factorizations
themselves there. These call the same LAPACK routines (``potrf``, ``trtrs``) that
``scipy.linalg.cholesky`` and ``scipy.linalg.solve_triangular`` call, without the checks
of finiteness, so the results are the same.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

__all__ = ["cholesky_lower", "solve_lower"]


def cholesky_lower(a: np.ndarray) -> np.ndarray:
    """The lower Cholesky factor of a symmetric positive definite ``a``.

    Raises
    ------
    numpy.linalg.LinAlgError
        When ``a`` is not positive definite.
    """
    factor, info = lapack.dpotrf(a, lower=1, clean=1)
    if info > 0:
        raise np.linalg.LinAlgError(
            f"{info}-th leading minor of the array is not positive definite"
        )
    if info < 0:  # pragma: no cover - an argument LAPACK rejects
        raise ValueError(f"LAPACK potrf: illegal value in argument {-info}")
    out: np.ndarray = factor
    return out


def solve_lower(L: np.ndarray, b: np.ndarray, transpose: bool = False) -> np.ndarray:
    """``L^{-1} b`` (or ``L^{-T} b``) for a lower triangular ``L``.

    Raises
    ------
    numpy.linalg.LinAlgError
        When ``L`` has a zero on its diagonal.
    """
    x, info = lapack.dtrtrs(L, b, lower=1, trans=1 if transpose else 0)
    if info > 0:
        raise np.linalg.LinAlgError(f"singular matrix: resolution failed at diagonal {info - 1}")
    if info < 0:  # pragma: no cover - an argument LAPACK rejects
        raise ValueError(f"LAPACK trtrs: illegal value in argument {-info}")
    out: np.ndarray = x
    return out
