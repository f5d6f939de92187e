"""A dense tail whose Schur complement is kept on its pattern: the scalar first factor's case.

With a scalar first factor and scalar tail terms, ``E = A_TT - A_T0 diag(w) A_0T`` lives
on the lower-triangle pattern of a :class:`~mixedmodels.linalg.pairmap.PairMap` (the pairs
of tail rows meeting in a first-factor level, with A_TT's own entries and the diagonal),
and everything the fit reads of ``S^{-1}`` lies there too. So E is a vector of the
pattern's values, ``S = Lambda_T E Lambda_T + I`` is scattered straight into the one
array LAPACK factors in place, and the gradient gathers ``S^{-1}`` on the pattern from
the lower triangle that ``potri`` leaves, without forming the whole symmetric inverse.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import lapack

from mixedmodels._threads import lapack_threads
from mixedmodels.linalg.dense import cholesky_lower
from mixedmodels.linalg.pairmap import PairMap

__all__ = ["PairedInverse", "paired_inverse", "paired_schur"]


def paired_schur(pairs: PairMap, scaled: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The lower Cholesky factor of ``S = diag(scale) E diag(scale) + I`` for E's pattern
    values ``scaled`` (overwritten with S's), as a Fortran-ordered array."""
    scaled *= scale[pairs.rows]
    scaled *= scale[pairs.cols]
    scaled[pairs.diagonal] += 1.0
    S = np.zeros((pairs.q, pairs.q), order="F")
    S.reshape(-1, order="F")[pairs.fortran_at] = scaled
    with lapack_threads(S.shape[0]):
        return cholesky_lower(S, overwrite=True)


@dataclass(frozen=True)
class PairedInverse:
    """``S^{-1}`` as the lower triangle ``potri`` leaves, read on the pattern of ``pairs``.

    Attributes
    ----------
    lower : numpy.ndarray
        Fortran-ordered; its lower triangle is that of ``S^{-1}``.
    pairs : PairMap
    """

    lower: np.ndarray
    pairs: PairMap
    _on_pattern: list[np.ndarray] = field(default_factory=list, repr=False)

    def on_pattern(self) -> np.ndarray:
        """``S^{-1}`` at the pattern's positions (gathered once)."""
        if not self._on_pattern:
            flat = self.lower.reshape(-1, order="F")
            self._on_pattern.append(flat[self.pairs.fortran_at])
        return self._on_pattern[0]

    def entries(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """``S^{-1}[i, j]``, any positions."""
        out: np.ndarray = self.lower[np.maximum(i, j), np.minimum(i, j)]
        return out

    def row_traces(self, E: np.ndarray | None, scale: np.ndarray) -> np.ndarray:
        """``sum_g S^{-1}[a, g] E[a, g] scale[g]`` for every row ``a``, with E's pattern
        values (each off-diagonal position stands for ``(a, g)`` and ``(g, a)``)."""
        assert E is not None and E.ndim == 1
        P = self.pairs
        t = self.on_pattern() * E
        by_row = np.bincount(P.rows, t * scale[P.cols], minlength=P.q)
        mirrored = np.where(P.off_diagonal, t * scale[P.rows], 0.0)
        by_col = np.bincount(P.cols, mirrored, minlength=P.q)
        out: np.ndarray = by_row + by_col
        return out

    def quadratic_forms(self, scale: np.ndarray) -> np.ndarray:
        """``z_l' diag(scale) S^{-1} diag(scale) z_l`` for every first-factor level l."""
        P = self.pairs
        return P.quadratic_forms(self.on_pattern() * scale[P.rows] * scale[P.cols])

    def dense(self) -> np.ndarray:
        """All of ``S^{-1}``."""
        lower = np.tril(self.lower)
        full: np.ndarray = lower + lower.T
        full[np.diag_indices_from(full)] -= np.diagonal(lower)
        return full


def paired_inverse(L: np.ndarray, pairs: PairMap) -> PairedInverse:
    """``S^{-1}`` from S's lower Cholesky factor ``L``."""
    with lapack_threads(L.shape[0]):
        inv, info = lapack.dpotri(L, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError("the tail factor is singular")
    return PairedInverse(inv, pairs)
