"""The general sparse tail: S on its full sparse pattern, factored by supernodes.

A tail whose first factor has a vector term (its weights are ``k0 x k0`` blocks per
level, not one number) keeps the Schur complement ``S = Lambda_T'(A_TT - A_T0 W A_0T)
Lambda_T + I`` on the pattern of ``A_T0 A_0T`` and forms its values with the sparse
product at each evaluation (:class:`SparseTail`). After a scalar first factor the pair
pattern kind (:mod:`mixedmodels.core.sparsepairs`) serves instead, at less memory per
entry. Both factor with :class:`~mixedmodels.core.sparsefactor.SparseTailFactor`;
:func:`~mixedmodels.core.tailstorage.choose_tail` picks the kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from mixedmodels.core.sparsefactor import SparseTailFactor
from mixedmodels.linalg.supernodal import SupernodalFactor, Symbolic
from mixedmodels.linalg.weightedgram import WeightedGram

__all__ = ["POSITION_CACHE", "SparseInverse", "SparseTail", "schur_pattern"]

#: Bytes a sparse fit holds per entry of S's pattern beside L and its selected inverse:
#: the kind's index arrays (rows, columns and keys), the analysis's maps into L, A_TT's
#: values, the Schur complement each evaluation forms and keeps for the gradient, and
#: the scaled copies the factorization and the gradient make. Measured by the peak
#: resident memory of whole fits less L, its inverse, the data and the interpreter:
#: about 100 bytes an entry on the 8k and 17k long-tail designs (106 on 17k) with
#: PAIR_BYTES below; an estimate of 32 let a 4M-row, 40k-item fit pass the check and end
#: in numpy's MemoryError at its first gradient.
PATTERN_BYTES = 112
#: Bytes the gradient keeps and forms per pair of tail levels meeting in a first-factor
#: level (the Gram product's positions, their rows, columns and places in S^{-1}, and
#: the values read there).
PAIR_BYTES = 48


@dataclass(frozen=True)
class SparseInverse:
    """``S^{-1}`` on the pattern of the supernodal factor."""

    selected: SupernodalFactor
    kind: SparseTail

    def entries(self, i: np.ndarray, j: np.ndarray, remember: bool = True) -> np.ndarray:
        """``S^{-1}[i, j]`` for entries on the factor's pattern (``remember``: keep their
        positions for the same arrays' next call)."""
        out: np.ndarray = self.selected.values[self.kind.positions(i, j, remember)]
        return out

    def row_traces(self, E: np.ndarray | None, scale: np.ndarray) -> np.ndarray:
        """``sum_g S^{-1}[a, g] E[a, g] scale[g]`` for every row ``a`` (E on S's pattern)."""
        assert E is not None
        k = self.kind
        h = self.entries(k.rows, k.cols)
        out: np.ndarray = np.bincount(k.rows, h * E * scale[k.cols], minlength=k.q)
        return out

    def dense(self) -> np.ndarray:
        """Not available: the sparse kind never forms the dense inverse."""
        raise NotImplementedError("the sparse tail keeps S^{-1} on its pattern only")


#: Pairs of index arrays whose positions :meth:`SparseTail.positions` keeps. The
#: gradient asks for the same few at every evaluation; a caller with new arrays each time
#: (refits of a bootstrap, each with its own diagonal) must not grow the cache without end.
POSITION_CACHE = 16


@dataclass
class SparseTail:
    """The tail's Schur complement on its sparse pattern, factored by supernodes.

    Attributes
    ----------
    pattern : scipy.sparse.csc_matrix
        S's pattern (full, diagonal included, sorted), in the original order.
    symbolic : Symbolic
        The supernodal analysis in the chosen order.
    n_pairs : int
        Pairs of tail levels meeting in a first-factor level (:func:`pair_count`), for
        the memory estimate.
    """

    pattern: sp.csc_matrix
    symbolic: Symbolic
    n_pairs: int = 0
    name: str = "sparse"
    _cache: dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=dict
    )
    _ztt_values: tuple[object, np.ndarray] | None = None
    _gram_at: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        P = self.pattern
        self.q = int(P.shape[0])
        self.rows = P.indices.astype(np.int64)
        self.cols = np.repeat(np.arange(self.q, dtype=np.int64), np.diff(P.indptr))
        self.keys = self.cols * self.q + self.rows  # sorted: CSC with sorted indices
        self.diagonal = np.flatnonzero(self.rows == self.cols)
        self.bytes = (
            8 * self.symbolic.peak_entries + PATTERN_BYTES * P.nnz + PAIR_BYTES * self.n_pairs
        )

    def _slots(self, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The slots on S's pattern of the entries ``flat = row * q + col`` of a symmetric
        matrix (the transposed entry's slot, the same value), and which are on it.

        The entries are searched in sorted order, where each search starts near the last
        one's end: on 8k items, 1.9 million entries of the gradient's Gram product in
        0.26 s instead of 0.75 s (sorting included)."""
        order = np.argsort(flat, kind="stable")
        at = np.empty(flat.size, dtype=np.int64)
        at[order] = np.searchsorted(self.keys, flat[order])
        np.minimum(at, self.keys.size - 1, out=at)
        return at, self.keys[at] == flat

    def _at(self, flat: np.ndarray) -> np.ndarray:
        """:meth:`_slots` for entries that must all lie on S's pattern."""
        at, on_pattern = self._slots(flat)
        if not np.all(on_pattern):
            raise ValueError("an entry outside the tail's pattern")
        return at

    def positions(self, i: np.ndarray, j: np.ndarray, remember: bool = True) -> np.ndarray:
        """Positions in the factor's storage of the entries ``(i, j)`` on S's pattern,
        cached per pair of arrays unless ``remember`` is False (arrays made anew for each
        call, whose positions would only fill the cache): S's own entries (``rows``,
        ``cols``) are where the analysis put them, others are found on S's pattern first
        (a search over S's entries, not over every entry of L: on 8k items 0.9 s went to
        that)."""
        in_factor = self.in_factor
        if i is self.rows and j is self.cols:
            return in_factor
        key = (id(i), id(j))
        hit = self._cache.get(key)
        if hit is not None and hit[0] is i and hit[1] is j:
            return hit[2]
        flat = np.asarray(i, dtype=np.int64) * self.q + np.asarray(j, dtype=np.int64)
        slot, on_pattern = self._slots(flat)
        at: np.ndarray = in_factor[slot]
        if not np.all(on_pattern):  # fill-in: an entry of L beyond S's pattern
            off = ~on_pattern
            at[off] = self.symbolic.locate(np.asarray(i)[off], np.asarray(j)[off])
        if not remember:
            return at
        if len(self._cache) >= POSITION_CACHE:  # arrays that come once (new each call)
            self._cache.clear()
        self._cache[key] = (i, j, at)
        return at

    def _ztt(self, ztt: np.ndarray | sp.csr_matrix) -> np.ndarray:
        """A_TT's values on S's pattern."""
        if self._ztt_values is not None and self._ztt_values[0] is ztt:
            return self._ztt_values[1]
        if isinstance(ztt, np.ndarray):
            values: np.ndarray = ztt.reshape(-1)[self.keys].copy()
        else:
            coo = sp.coo_matrix(ztt)
            flat = coo.row.astype(np.int64) * self.q + coo.col
            values = np.bincount(self._at(flat), coo.data, minlength=self.keys.size)
        self._ztt_values = (ztt, values)
        return values

    def schur_gram(
        self,
        ztt: np.ndarray | sp.csr_matrix,
        gram: WeightedGram,
        w: np.ndarray,
        values: np.ndarray | None,
    ) -> np.ndarray:
        """``A_TT - Z diag(w) Z'`` on S's pattern."""
        out = self._ztt(ztt).copy()
        for flat, vals in gram.entries(w, values):
            hit = self._gram_at.get(id(flat))
            if hit is None or hit[0] is not flat:
                hit = (flat, self._at(flat))
                self._gram_at[id(flat)] = hit
            out -= np.bincount(hit[1], vals, minlength=out.size)
        return out

    def schur_product(self, ztt: np.ndarray | sp.csr_matrix, product: sp.csr_matrix) -> np.ndarray:
        """``A_TT - product`` on S's pattern."""
        coo = sp.coo_matrix(product)
        flat = coo.row.astype(np.int64) * self.q + coo.col
        out: np.ndarray = self._ztt(ztt) - np.bincount(
            self._at(flat), coo.data, minlength=self.keys.size
        )
        return out

    def factor(
        self,
        D: np.ndarray,
        congruence: Callable[[np.ndarray], np.ndarray],
        scale: np.ndarray | None,
    ) -> SparseTailFactor[SparseInverse]:
        """Factor ``Lambda_T' D Lambda_T + I`` (Lambda_T diagonal: ``scale``)."""
        assert scale is not None
        return SparseTailFactor(self, D, scale)

    @property
    def in_factor(self) -> np.ndarray:
        """Where each entry of S's pattern (CSC order) lives in L's storage."""
        at = self.symbolic.pattern_positions
        assert at is not None  # this kind keeps the analysis's map
        return at

    def inverse_of(self, selected: SupernodalFactor) -> SparseInverse:
        """The reader of the selected inverse ``selected``."""
        return SparseInverse(selected, self)


def schur_pattern(ztt: np.ndarray | sp.csr_matrix, zt0: sp.csr_matrix) -> sp.csc_matrix:
    """The pattern of ``A_TT - A_T0 W A_0T`` (with the diagonal), unit values."""
    q = zt0.shape[0]
    Z = sp.csr_matrix(zt0, copy=True)
    Z.data[:] = 1.0
    if isinstance(ztt, np.ndarray):
        own = sp.csr_matrix(np.asarray(ztt != 0, dtype=np.float64))
    else:
        own = sp.csr_matrix(ztt, copy=True)
        own.data[:] = 1.0
    # A_TT and the identity first: A_TT is often diagonal, so the one large sum is the last
    pattern = sp.csr_matrix(Z @ Z.T) + (own + sp.eye(q, format="csr"))
    out = sp.csc_matrix(pattern)
    out.data[:] = 1.0
    out.sort_indices()
    return out
