"""The selected inverse: the entries of ``A^{-1}`` on the pattern of A's Cholesky factor.

Takahashi, Fagan and Chin (1973) and Erisman and Tinney (1975): with L's supernode ``s``
written ``[L11; L21]`` (columns c, rows r below) and ``U = L21 L11^{-1}``, block
elimination gives

    H[r, c] = -H[r, r] U,        H[c, c] = (L11 L11')^{-1} - U' H[r, c].

``H[r, r]`` lies on L's pattern (the rows of a supernode form a clique of the filled
graph) in the supernodes that own those rows, all of them eliminated later, so a sweep
from the last supernode to the first computes H on the whole pattern of L at about twice
the cost of the factorization.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.linalg import blas, lapack

from mixedmodels._threads import one_blas_thread
from mixedmodels.linalg import packed
from mixedmodels.linalg.supernodal import (
    UPDATE_COLUMNS,
    SupernodalFactor,
    owner_runs,
    panel_threads,
)

__all__ = ["selected_inverse"]


def selected_inverse(factor: SupernodalFactor, overwrite: bool = False) -> SupernodalFactor:
    """``A^{-1}`` on L's pattern, stored as L is (lower triangle of the permuted matrix;
    :meth:`Symbolic.locate` addresses an entry).

    With ``overwrite`` the inverse takes the place of L in ``factor``'s own storage (the
    factor is then gone): supernode ``s`` reads only its own panel of L, which it copies
    before writing, and panels of the inverse that come later in the order.
    """
    sym = factor.symbolic
    inverse = factor if overwrite else SupernodalFactor(sym, np.zeros(sym.nnz))
    with one_blas_thread():
        for s in range(sym.first.size - 2, -1, -1):
            with panel_threads(sym, s):
                _invert_panel(factor, inverse, s)
    return inverse


def _invert_panel(factor: SupernodalFactor, inverse: SupernodalFactor, s: int) -> None:
    """Supernode ``s``'s panel of the inverse, from L's and the later panels of the
    inverse."""
    if factor.symbolic.packed[s]:  # no rows below: its packed triangle, inverted in place
        H = inverse.triangle(s)
        if inverse is not factor:
            H[...] = factor.triangle(s)
        _, info = lapack.dpftri(factor.columns(s), H, uplo="L", overwrite_a=1)
        _check(info, s)
        return
    P = factor.panel(s)
    k = P.shape[1]
    Hs = inverse.panel(s)
    L11 = np.array(P[:k], order="F")  # a copy even when the view is contiguous (k = 1)
    U = blas.dtrsm(1.0, L11, P[k:], side=1, lower=1)  # L21 L11^-1
    # (L11 L11')^{-1}, lower triangle (the upper one keeps L11's zeros)
    Hcc, info = lapack.dpotri(L11, lower=1, overwrite_c=1)
    _check(info, s)
    Hrc = _inverse_times(inverse, s, U)
    Hcc = blas.dgemm(-1.0, U, Hrc, beta=1.0, c=Hcc, trans_a=1, overwrite_c=1)
    Hs[k:] = Hrc
    Hs[:k] = np.tril(Hcc)


@functools.lru_cache(maxsize=64)
def _strict_upper(w: int) -> tuple[np.ndarray, np.ndarray]:
    """The indices above the diagonal of a ``w x w`` block (made once per size: on 8k
    items, 2,000 blocks an inverse made them anew in 0.06 s)."""
    rows, cols = np.triu_indices(w, 1)
    rows.setflags(write=False)
    cols.setflags(write=False)
    return rows, cols


def _check(info: int, s: int) -> None:
    if info != 0:
        raise np.linalg.LinAlgError(f"a singular diagonal block (supernode {s})")


def _inverse_times(inverse: SupernodalFactor, s: int, U: np.ndarray) -> np.ndarray:
    """``-H[r, r] U`` for the rows ``r`` below supernode ``s``, from the inverse's lower
    triangle on those rows, read a block of columns at a time (never all of ``H[r, r]``:
    ``b^2`` doubles for a panel with ``b`` rows below)."""
    b = U.shape[0]
    out = np.zeros(U.shape, order="F")
    sym = inverse.symbolic
    for a, stop, t, rel, cols in owner_runs(sym, s):
        in_triangle = bool(sym.packed[t])
        Ht = inverse.triangle(t) if in_triangle else inverse.panel(t)
        n = inverse.columns(t)
        for c0 in range(a, stop, UPDATE_COLUMNS):
            c1 = min(c0 + UPDATE_COLUMNS, stop)
            w = c1 - c0
            block = np.empty((b - c0, w), order="F")  # H[r, r] rows c0:, columns c0:c1
            if in_triangle:  # its rows are its columns: rel[j - a] == cols[j - a]
                packed.gather_lower(Ht, n, rel[c0 - a :], w, block)
            else:
                for j in range(c0, c1):  # column by column: contiguous, 1-D indexing
                    Ht[:, cols[j - a]].take(rel[j - a :], out=block[j - c0 :, j - c0])
            upper = _strict_upper(w)
            block[:w][upper] = block[:w].T[upper]  # the diagonal block, both triangles
            out[c0:] -= block @ U[c0:c1]
            if c1 < b:  # the same entries above the diagonal, by symmetry
                out[c0:c1] -= block[w:].T @ U[c1:]
    return out
