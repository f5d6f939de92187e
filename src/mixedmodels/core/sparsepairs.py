"""A sparse tail whose Schur complement is kept on its pair pattern: the scalar first factor's case.

With a scalar first factor and scalar tail terms, ``E = A_TT - A_T0 diag(w) A_0T`` lives
on the lower-triangle pattern of a :class:`~mixedmodels.linalg.pairmap.PairMap`, and one
sparse product with the map gives E's values there at every evaluation
(:mod:`mixedmodels.core.densepairs` does the same for a dense tail). The supernodal factor
of ``S = Lambda_T E Lambda_T + I`` takes those values straight into L's storage: the map
records where each position of the pattern lives in L. The gradient reads ``S^{-1}`` at
the same positions, and the quadratic forms of the first factor's levels are the map's
product read the other way.

Against the general sparse kind (:class:`~mixedmodels.core.sparsetail.SparseTail`, which
forms the Gram product by the sparse kernel and looks its entries up on S's full pattern),
this one keeps about 12 bytes per pair of tail levels and 25 per position of the lower
pattern, instead of about 100 per entry of the full pattern: on 8,000 long-tailed items
(3.6 million entries of S, 4.5 million pairs) 660 MB less at the peak of a fit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mixedmodels.core.pairinverse import PairPatternInverse
from mixedmodels.core.sparsefactor import SparseTailFactor
from mixedmodels.linalg.ordering import minimum_degree
from mixedmodels.linalg.pairmap import PairMap
from mixedmodels.linalg.supernodal import SupernodalFactor, Symbolic, analyse
from mixedmodels.linalg.weightedgram import WeightedGram

__all__ = ["PairedSparseInverse", "PairedSparseTail"]

#: Bytes a fit holds per position of the pair pattern beside L: the map's rows, columns
#: and diagonal flags (9), the position in L (8), A_TT's values, the Schur complement the
#: gradient keeps and the scaled copy the factorization scatters (24), and the entries of
#: ``S^{-1}`` the gradient gathers and scales (16).
POSITION_BYTES = 57
#: Bytes per pair of tail levels meeting in a first-factor level: the map's value and
#: column index (12), and the product's transient (8).
PAIR_BYTES = 20


def _symmetric_pattern(pairs: PairMap) -> sp.csc_matrix:
    """S's full pattern (both triangles), each entry's value the index of its position
    on the pair map's lower pattern (int32 where it fits: the ordering and the analysis
    come next, and on 17,000 items this matrix holds 5.6 million entries)."""
    index_type = np.int32 if pairs.size < 2**31 else np.int64
    index = np.arange(pairs.size, dtype=index_type)
    off = pairs.off_diagonal
    rows = np.concatenate([pairs.rows, pairs.cols[off]])
    cols = np.concatenate([pairs.cols, pairs.rows[off]])
    full = sp.csc_matrix((np.concatenate([index, index[off]]), (rows, cols)), shape=(pairs.q,) * 2)
    full.sort_indices()
    return full


class PairedSparseTail:
    """The tail's Schur complement on a pair map's pattern, factored by supernodes.

    Parameters
    ----------
    pairs : PairMap
        The map of ``A_T0 diag(w) A_0T`` with A_TT's own positions.
    """

    name = "sparse"

    def __init__(self, pairs: PairMap) -> None:
        self.pairs = pairs
        self.q = pairs.q
        full = _symmetric_pattern(pairs)
        symbolic = analyse(full, minimum_degree(full))
        # where each position of the pattern lives in L (both triangles of a position of
        # the full pattern name the same entry of L)
        where = np.empty(pairs.size, dtype=np.int64)
        assert symbolic.pattern_positions is not None
        where[full.data] = symbolic.pattern_positions
        del full
        self.in_factor = where.astype(np.int32) if symbolic.nnz < 2**31 else where
        self.symbolic: Symbolic = symbolic.without_pattern()
        self.bytes = (
            8 * self.symbolic.peak_entries
            + POSITION_BYTES * pairs.size
            + PAIR_BYTES * int(pairs.forms.nnz)
        )
        self._ztt_values: tuple[object, np.ndarray, np.ndarray] | None = None
        self._keys: np.ndarray | None = None
        self._slots: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def _with_ztt(self, ztt: np.ndarray | sp.csr_matrix, out: np.ndarray) -> np.ndarray:
        """``out`` plus A_TT on the pattern. A_TT's non-zeros are kept alone: on a crossed
        design of two factors it is diagonal, a few of the pattern's positions."""
        if self._ztt_values is None or self._ztt_values[0] is not ztt:
            values = self.pairs.lookup(ztt)
            at = np.flatnonzero(values)
            self._ztt_values = (ztt, at, values[at])
        _, at, values = self._ztt_values
        out[at] += values
        return out

    def _lower_slots(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For entries ``flat = row * q + col`` of a symmetric product: which lie in the
        lower triangle, and their positions on the pattern (kept while the Gram kernel
        gives the same position array, as it does over a GLMM's PIRLS iterations)."""
        hit = self._slots.get(id(flat))
        if hit is not None and hit[0] is flat:
            return hit[1], hit[2]
        q = self.q
        if self._keys is None:  # sorted: the pattern is sorted by row, then column
            self._keys = self.pairs.rows.astype(np.int64) * q + self.pairs.cols.astype(np.int64)
        rows, cols = np.divmod(flat, q)
        lower = rows >= cols
        at = np.searchsorted(self._keys, flat[lower])
        if at.size and (at.max() >= self._keys.size or np.any(self._keys[at] != flat[lower])):
            raise ValueError("an entry outside the tail's pattern")
        if len(self._slots) >= 4:  # the kernel's slabs: one or two arrays
            self._slots.clear()
        self._slots[id(flat)] = (flat, lower, at)
        return lower, at

    def schur_gram(
        self,
        ztt: np.ndarray | sp.csr_matrix,
        gram: WeightedGram,
        w: np.ndarray,
        values: np.ndarray | None,
    ) -> np.ndarray:
        """``A_TT - Z diag(w) Z'`` on the pattern; Z's own values by the map, reweighted
        ones (``values``: a GLMM's working weights) by the Gram kernel."""
        if values is None:
            return self._with_ztt(ztt, -self.pairs.gram(w))
        out = np.zeros(self.pairs.size)
        for flat, vals in gram.entries(w, values):
            lower, at = self._lower_slots(flat)
            out -= np.bincount(at, vals[lower], minlength=out.size)
        return self._with_ztt(ztt, out)

    def schur_product(self, ztt: np.ndarray | sp.csr_matrix, product: sp.csr_matrix) -> np.ndarray:
        """Not for this kind: a vector first factor's weights are blocks, which the pair
        map does not hold (:func:`~mixedmodels.core.tailstorage.choose_tail` gives such a
        model the general sparse kind)."""
        raise TypeError("the pair-pattern tail serves a scalar first factor only")

    def factor(
        self,
        D: np.ndarray,
        congruence: Callable[[np.ndarray], np.ndarray],
        scale: np.ndarray | None,
    ) -> SparseTailFactor[PairedSparseInverse]:
        """Factor ``Lambda_T' D Lambda_T + I`` (Lambda_T diagonal: ``scale``) for D's
        values on the pattern."""
        assert scale is not None
        return SparseTailFactor(self, D, scale)

    @property
    def rows(self) -> np.ndarray:
        """The pattern's rows (the pair map's)."""
        return self.pairs.rows

    @property
    def cols(self) -> np.ndarray:
        """The pattern's columns."""
        return self.pairs.cols

    @property
    def diagonal(self) -> np.ndarray:
        """The positions of the diagonal on the pattern."""
        return self.pairs.diagonal

    def inverse_of(self, selected: SupernodalFactor) -> PairedSparseInverse:
        """The reader of the selected inverse ``selected``."""
        return PairedSparseInverse(selected, self)

    def positions(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Positions in L's storage of the entries ``(i, j)``."""
        return self.symbolic.locate(i, j)


@dataclass(frozen=True)
class PairedSparseInverse(PairPatternInverse):
    """``S^{-1}`` on the supernodal factor's pattern, read on the pair pattern."""

    selected: SupernodalFactor
    kind: PairedSparseTail

    @property
    def pairs(self) -> PairMap:  # type: ignore[override]
        """The map whose pattern the inverse is read on."""
        return self.kind.pairs

    def on_pattern(self, part: slice = slice(None)) -> np.ndarray:
        """``S^{-1}`` at the positions ``part`` of the pattern."""
        out: np.ndarray = self.selected.values[self.kind.in_factor[part]]
        return out

    def entries(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """``S^{-1}[i, j]`` for entries on L's pattern."""
        out: np.ndarray = self.selected.values[self.kind.positions(i, j)]
        return out

    def dense(self) -> np.ndarray:
        """Not available: the sparse kind never forms the dense inverse."""
        raise NotImplementedError("the sparse tail keeps S^{-1} on its pattern only")
