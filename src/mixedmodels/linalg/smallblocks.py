"""Kernels for a uniform block-diagonal matrix stored as an ``(m, k, k)`` array.

A vector-valued random-effects term with ``m`` levels and ``k`` coefficients gives such a
matrix; ``k = 1`` is a diagonal. The 1 x 1 and 2 x 2 cases are written out in closed form,
because numpy's batched LAPACK calls cost more per block than the arithmetic.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cholesky_blocks", "inverse_lower_blocks"]


def cholesky_blocks(blocks: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of every block of a stack of symmetric positive definite blocks.

    Parameters
    ----------
    blocks : numpy.ndarray
        Shape ``(m, k, k)``; only the lower triangle is read.

    Returns
    -------
    numpy.ndarray
        Shape ``(m, k, k)``, lower triangular.
    """
    k = blocks.shape[-1]
    if k == 1:
        return np.sqrt(blocks)
    if k == 2:
        out = np.zeros_like(blocks)
        l11 = np.sqrt(blocks[:, 0, 0])
        l21 = blocks[:, 1, 0] / l11
        out[:, 0, 0] = l11
        out[:, 1, 0] = l21
        out[:, 1, 1] = np.sqrt(blocks[:, 1, 1] - l21 * l21)
        return out
    lower = np.tril(blocks)
    return np.linalg.cholesky(lower + np.swapaxes(np.tril(blocks, -1), -1, -2))


def inverse_lower_blocks(lower: np.ndarray) -> np.ndarray:
    """Inverse of every block of a stack of nonsingular lower-triangular blocks."""
    k = lower.shape[-1]
    if k == 1:
        return 1.0 / lower
    if k == 2:
        out = np.zeros_like(lower)
        a = 1.0 / lower[:, 0, 0]
        c = 1.0 / lower[:, 1, 1]
        out[:, 0, 0] = a
        out[:, 1, 1] = c
        out[:, 1, 0] = -lower[:, 1, 0] * a * c
        return out
    eye = np.broadcast_to(np.eye(k), lower.shape)
    return np.linalg.solve(lower, eye)
