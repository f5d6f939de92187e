"""Kernels for a uniform block-diagonal matrix: m blocks of size k x k.

A vector-valued random-effects term with m levels and k coefficients gives such a
matrix (k = 1 is a diagonal). The blocks are stored *component-major*, as an array of
shape ``(k, k, m)``: element ``[a, b]`` is a contiguous vector over the levels. Every
kernel is then whole-vector arithmetic over the levels (a short loop over the k^2
components, or one ``einsum`` whose innermost loop runs along the levels), which for the
small k of random-effects terms is far faster than numpy's batched LAPACK or matmul on
``(m, k, k)`` stacks when m is large, and costs a few microseconds when it is small.
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
    return np.ascontiguousarray(stack.transpose(1, 2, 0))


def to_level_major(blocks: np.ndarray) -> np.ndarray:
    """``(r, c, m)`` -> ``(m, r, c)``, contiguous."""
    return np.ascontiguousarray(blocks.transpose(2, 0, 1))


def congruence(T: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """``T' B_l T`` for every block, with one constant ``k x k`` matrix ``T``."""
    left = np.einsum("ia,ijm->ajm", T, blocks)  # sum_i T[i,a] B[i,j]
    out: np.ndarray = np.einsum("ajm,jb->abm", left, T)
    return out


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
    left = "iam" if transpose_a else "aim"
    right = "bim" if transpose_b else "ibm"
    out: np.ndarray = np.einsum(f"{left},{right}->abm", A, B)
    return out
