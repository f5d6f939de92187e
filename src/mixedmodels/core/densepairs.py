"""A dense tail whose Schur complement is kept on its pattern: the scalar first factor's case.

With a scalar first factor and scalar tail terms, ``E = A_TT - A_T0 diag(w) A_0T`` lives
on the lower-triangle pattern of a :class:`~mixedmodels.linalg.pairmap.PairMap` (the pairs
of tail rows meeting in a first-factor level, with A_TT's own entries and the diagonal),
and everything the fit reads of ``S^{-1}`` lies there too. So E is a vector of the
pattern's values, ``S = Lambda_T E Lambda_T + I`` is scattered straight into its lower
triangle in LAPACK's rectangular full packed format (:mod:`mixedmodels.linalg.packed`),
which ``dpftrf`` factors and ``dpftri`` inverts in place, and the gradient gathers
``S^{-1}`` on the pattern from that triangle, without forming the whole symmetric
inverse. The packed triangle holds half the doubles of the square, and on a 2,000-item
tail both kernels ran faster than their square forms: 32.5 against 40.5 ms for the
factor and 47.5 against 54.2 ms for the inverse, on two threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import lapack

from mixedmodels._threads import lapack_threads
from mixedmodels.core.pairinverse import PairPatternInverse
from mixedmodels.linalg import packed
from mixedmodels.linalg.pairmap import PairMap

__all__ = ["PairedInverse", "PairedTailFactor", "paired_schur"]


def paired_schur(pairs: PairMap, scaled: np.ndarray, scale: np.ndarray) -> PairedTailFactor:
    """The lower Cholesky factor of ``S = diag(scale) E diag(scale) + I`` for E's pattern
    values ``scaled`` (overwritten with S's), packed.

    Raises
    ------
    numpy.linalg.LinAlgError
        When S is not positive definite (or not finite).
    """
    scaled *= scale[pairs.rows]
    scaled *= scale[pairs.cols]
    scaled[pairs.diagonal] += 1.0
    S = np.zeros(packed.size(pairs.q))
    S[pairs.packed_at] = scaled
    with lapack_threads(pairs.q):
        _, info = lapack.dpftrf(pairs.q, S, uplo="L", overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"the matrix is not positive definite (pftrf info {info})")
    return PairedTailFactor(S, pairs)


@dataclass(frozen=True)
class PairedTailFactor:
    """The packed lower Cholesky factor of S, built on the pattern of ``pairs``.

    Attributes
    ----------
    L : numpy.ndarray
        The factor's lower triangle, packed (:mod:`mixedmodels.linalg.packed`).
    pairs : PairMap
    """

    L: np.ndarray
    pairs: PairMap
    _inverse: list[PairedInverse] = field(default_factory=list, repr=False, compare=False)

    def logdet(self) -> float:
        """``log det S``."""
        return 2.0 * float(np.sum(np.log(self.L[packed.diagonal(self.pairs.q)])))

    def solve_lower(self, B: np.ndarray) -> np.ndarray:
        """``L^{-1} B`` (in the original order)."""
        return _solve(self.L, B, "N")

    def solve_upper(self, Y: np.ndarray) -> np.ndarray:
        """``L^{-T} Y``: ``S^{-1} B = solve_upper(solve_lower(B))``."""
        return _solve(self.L, Y, "T")

    def inverse(self) -> PairedInverse:
        """``S^{-1}``, packed, read on the pattern (kept: the gradient at the optimum and
        its conditional variances read it)."""
        if not self._inverse:
            inverse = self.L.copy()
            with lapack_threads(self.pairs.q):
                _, info = lapack.dpftri(self.pairs.q, inverse, uplo="L", overwrite_a=1)
            if info != 0:
                raise np.linalg.LinAlgError("the tail factor is singular")
            self._inverse.append(PairedInverse(inverse, self.pairs))
        return self._inverse[0]


def _solve(L: np.ndarray, B: np.ndarray, trans: str) -> np.ndarray:
    """``L^{-1} B`` or ``L^{-T} B`` for a packed lower ``L`` and a vector or matrix B."""
    matrix = B.reshape(B.shape[0], -1)
    out: np.ndarray = lapack.dtfsm(1.0, L, matrix, uplo="L", trans=trans)
    return out.reshape(B.shape)


@dataclass(frozen=True)
class PairedInverse(PairPatternInverse):
    """``S^{-1}`` as the packed lower triangle ``dpftri`` leaves, read on the pattern of
    ``pairs``.

    Attributes
    ----------
    lower : numpy.ndarray
        The lower triangle of ``S^{-1}``, packed (:mod:`mixedmodels.linalg.packed`).
    pairs : PairMap
    """

    lower: np.ndarray
    pairs: PairMap

    def on_pattern(self, part: slice = slice(None)) -> np.ndarray:
        """``S^{-1}`` at the positions ``part`` of the pattern."""
        out: np.ndarray = self.lower[self.pairs.packed_at[part]]
        return out

    def entries(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """``S^{-1}[i, j]``, any positions."""
        at = packed.offsets(self.pairs.q, np.maximum(i, j), np.minimum(i, j))
        out: np.ndarray = self.lower[at]
        return out

    def dense(self) -> np.ndarray:
        """All of ``S^{-1}``."""
        square, info = lapack.dtfttr(self.pairs.q, self.lower, uplo="L")
        if info != 0:  # pragma: no cover - LAPACK's own argument check
            raise ValueError(f"dtfttr info {info}")
        lower = np.tril(square)
        full: np.ndarray = lower + lower.T
        full[np.diag_indices_from(full)] -= np.diagonal(lower)
        return full
