"""``S^{-1}`` read on the pattern of a :class:`~mixedmodels.linalg.pairmap.PairMap`.

A tail of scalar terms after a scalar first factor keeps its Schur complement on the
lower-triangle pattern of the pairs of tail rows that meet in a first-factor level
(:mod:`mixedmodels.core.densepairs` stores its factor as one packed triangle,
:mod:`mixedmodels.core.sparsepairs` as supernodes). What the fit reads of ``S^{-1}`` lies
on that pattern too: the gradient's row sums and the quadratic forms ``z_l' H z_l`` of
the first factor's levels. Both storages give the inverse's values there
(:meth:`PairPatternInverse.on_pattern`); the sums are the same.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from mixedmodels.linalg.pairmap import PairMap

__all__ = ["PairPatternInverse"]

#: Positions of the pattern read at once: the scaled inverse is formed a part at a time
#: into one array, so no pattern-length temporary sits beside it (on 17,000 long-tailed
#: items the pattern has 2.8M positions, 21 MiB an array, and three such temporaries were
#: alive at the end of each gradient, beside S^{-1} in L's place).
PART = 1 << 18


class PairPatternInverse(ABC):
    """``S^{-1}`` at the positions of a pair map's pattern, and the sums read there."""

    pairs: PairMap

    @abstractmethod
    def on_pattern(self, part: slice = slice(None)) -> np.ndarray:
        """``S^{-1}`` at the positions ``part`` of the pattern (``rows >= cols``), a new
        array."""

    @abstractmethod
    def entries(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """``S^{-1}[i, j]``."""

    @abstractmethod
    def dense(self) -> np.ndarray:
        """All of ``S^{-1}`` (where the storage can form it)."""

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
        h = np.empty(P.size)
        for start in range(0, P.size, PART):
            part = slice(start, min(start + PART, P.size))
            out = h[part]
            np.multiply(self.on_pattern(part), scale[P.rows[part]], out=out)
            out *= scale[P.cols[part]]
        return P.quadratic_forms(h, overwrite=True)
