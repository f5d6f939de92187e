"""Kernels for a uniform block-diagonal matrix: m blocks of size k x k.

A vector-valued random-effects term with m levels and k coefficients gives such a
matrix (k = 1 is a diagonal). The blocks are stored *component-major*, as an array of
shape ``(k, k, m)``: element ``[a, b]`` is a contiguous vector over the levels. Every
kernel is then a short loop over the k^2 (or k^3) components with whole-vector
arithmetic, which for the small k of random-effects terms is far faster than numpy's
batched LAPACK or matmul on ``(m, k, k)`` stacks.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "cholesky_blocks",
    "congruence",
    "inverse_lower_blocks",
    "multiply_blocks",
    "to_component_major",
    "to_level_major",
]


def to_component_major(stack: np.ndarray) -> np.ndarray:
    """``(m, r, c)`` -> ``(r, c, m)``, contiguous."""
    return np.ascontiguousarray(np.moveaxis(stack, 0, -1))


def to_level_major(blocks: np.ndarray) -> np.ndarray:
    """``(r, c, m)`` -> ``(m, r, c)``, contiguous."""
    return np.ascontiguousarray(np.moveaxis(blocks, -1, 0))


def congruence(T: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """``T' B_l T`` for every block, with one constant ``k x k`` matrix ``T``."""
    k, _, m = blocks.shape
    left = np.tensordot(T.T, blocks, axes=([1], [0]))  # (k, k, m): sum_i T[i,a] B[i,j]
    out = np.tensordot(left, T, axes=([1], [0]))  # (k, m, k)
    return np.ascontiguousarray(np.moveaxis(out, 2, 1))


def cholesky_blocks(blocks: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of every block (only the lower triangle is read).

    Parameters
    ----------
    blocks : numpy.ndarray
        ``(k, k, m)``, each block symmetric positive definite.
    """
    k = blocks.shape[0]
    L = np.zeros_like(blocks)
    for j in range(k):
        diag = blocks[j, j] - np.einsum("im,im->m", L[j, :j], L[j, :j]) if j else blocks[j, j]
        L[j, j] = np.sqrt(diag)
        for i in range(j + 1, k):
            off = blocks[i, j] - np.einsum("im,im->m", L[i, :j], L[j, :j]) if j else blocks[i, j]
            L[i, j] = off / L[j, j]
    return L


def inverse_lower_blocks(L: np.ndarray) -> np.ndarray:
    """Inverse of every lower-triangular block, ``(k, k, m)``."""
    k = L.shape[0]
    inv = np.zeros_like(L)
    for j in range(k):
        inv[j, j] = 1.0 / L[j, j]
        for i in range(j + 1, k):
            acc = np.zeros_like(L[0, 0])
            for r in range(j, i):
                acc -= L[i, r] * inv[r, j]
            inv[i, j] = acc / L[i, i]
    return inv


def multiply_blocks(
    A: np.ndarray, B: np.ndarray, transpose_a: bool = False, transpose_b: bool = False
) -> np.ndarray:
    """Blockwise product ``op(A_l) op(B_l)`` of two component-major stacks."""
    if transpose_a:
        A = A.transpose(1, 0, 2)
    if transpose_b:
        B = B.transpose(1, 0, 2)
    r, inner, m = A.shape
    c = B.shape[1]
    out = np.zeros((r, c, m))
    for a in range(r):
        for b in range(c):
            acc = out[a, b]
            for i in range(inner):
                acc += A[a, i] * B[i, b]
    return out
