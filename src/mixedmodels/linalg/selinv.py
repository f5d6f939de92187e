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

import numpy as np
from scipy.linalg import blas, lapack

from mixedmodels.linalg.supernodal import SupernodalFactor, Symbolic

__all__ = ["selected_inverse"]


def _runs(sym: Symbolic, s: int) -> list[tuple[int, int, int, np.ndarray, np.ndarray]]:
    """How the rows below supernode ``s`` sit in the supernodes that own them.

    For each run of rows owned by one supernode: the run's bounds in ``rows[s]``, that
    supernode, the positions in its front of ``rows[s]`` from the run on, and the run's
    local columns there.
    """
    rows = sym.rows[s]
    owner = sym.column_node[rows]
    cuts = np.concatenate([[0], np.flatnonzero(np.diff(owner)) + 1, [rows.size]])
    out = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        t = int(owner[a])
        keys = t * sym.n + rows[a:]
        rel = np.searchsorted(sym.front_keys, keys) - sym.front_starts[t]
        out.append((int(a), int(b), t, rel, rows[a:b] - sym.first[t]))
    return out


def selected_inverse(factor: SupernodalFactor) -> SupernodalFactor:
    """``A^{-1}`` on L's pattern, stored as L is (lower triangle of the permuted matrix;
    :meth:`Symbolic.locate` addresses an entry)."""
    sym = factor.symbolic
    inverse = SupernodalFactor(sym, np.zeros(sym.nnz))
    for s in range(sym.first.size - 2, -1, -1):
        P = factor.panel(s)
        k = P.shape[1]
        b = P.shape[0] - k
        Hs = inverse.panel(s)
        if not b:  # the panel is its diagonal block, contiguous: inverted in place
            Hs[...] = P  # L11 with zeros above its diagonal, which potri leaves alone
            _, info = lapack.dpotri(Hs, lower=1, overwrite_c=1)
            _check(info, s)
            continue
        L11 = np.array(P[:k], order="F")  # a copy even when the view is contiguous (k = 1)
        U = blas.dtrsm(1.0, L11, P[k:], side=1, lower=1)  # L21 L11^-1
        # (L11 L11')^{-1}, lower triangle (the upper one keeps L11's zeros)
        Hcc, info = lapack.dpotri(L11, lower=1, overwrite_c=1)
        _check(info, s)
        Hrr = np.empty((b, b), order="F")  # dsymm reads its lower triangle alone
        for a, stop, t, rel, cols in _runs(sym, s):
            Ht = inverse.panel(t)
            for j in range(a, stop):  # column by column: contiguous, 1-D indexing
                np.take(Ht[:, cols[j - a]], rel[j - a :], out=Hrr[j:, j])
        Hrc = blas.dsymm(-1.0, Hrr, U, side=0, lower=1)
        Hcc = blas.dgemm(-1.0, U, Hrc, beta=1.0, c=Hcc, trans_a=1, overwrite_c=1)
        Hs[k:] = Hrc
        Hs[:k] = np.tril(Hcc)
    return inverse


def _check(info: int, s: int) -> None:
    if info != 0:
        raise np.linalg.LinAlgError(f"a singular diagonal block (supernode {s})")
