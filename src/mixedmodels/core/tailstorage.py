"""How the tail block of L is stored: dense, or sparse supernodal.

Everything after the first grouping factor (the tail) meets in the Schur complement
``S = Lambda_T'(A_TT - A_T0 W A_0T) Lambda_T + I``. With few tail levels, or a dense S,
it is one dense LAPACK block (:class:`DenseTail`). With many levels whose S is sparse (a
long tail of rarely seen items) it is factored by the supernodal kernel after a
minimum-degree order (:class:`SparseTail`). The kind is chosen once per fit, from the flop
count and the memory of each layout (:func:`choose_tail`). Both give the same factor
interface (:class:`DenseTailFactor`, :class:`SparseTailFactor`): a log-determinant,
triangular solves and the entries of ``S^{-1}`` that the gradient reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

from mixedmodels._threads import lapack_threads
from mixedmodels.core.densepairs import PairedTailFactor, paired_schur
from mixedmodels.core.memory import available_bytes, memory_cap, release_freed
from mixedmodels.core.sparsefactor import SparseTailFactor
from mixedmodels.core.sparsepairs import PairedSparseTail
from mixedmodels.errors import ModelTooLargeError
from mixedmodels.linalg import packed
from mixedmodels.linalg.dense import cholesky_lower, solve_lower
from mixedmodels.linalg.ordering import minimum_degree
from mixedmodels.linalg.pairmap import MAX_PAIRS, PairMap, pair_count
from mixedmodels.linalg.supernodal import SupernodalFactor, Symbolic, analyse
from mixedmodels.linalg.weightedgram import WeightedGram

__all__ = [
    "DenseTail",
    "SparseTail",
    "DenseTailFactor",
    "SparseTailFactor",
    "TailFactor",
    "TailKind",
    "choose_tail",
]


#: Most bytes the tail's factorization may take (three quarters of the process's memory).
MAX_TAIL_BYTES = memory_cap()
#: Of what is available when a fit starts (:func:`available_bytes`), the share the tail
#: may take: the data, the design and the rest of the fit are already there or to come.
AVAILABLE_SHARE = 0.9
#: Tails with fewer levels than this stay dense (LAPACK on one block is as fast).
SPARSE_MIN_LEVELS = 3000
#: A Schur complement whose pattern fills more than this share of the square stays dense.
SPARSE_MAX_DENSITY = 0.25
#: ``"dense"`` or ``"sparse"`` imposes that kind (the sparse one where the tail allows
#: it: scalar terms only); None lets :func:`choose_tail` decide.
TAIL_KIND: str | None = None
#: Dense q_T x q_T arrays alive at once in a dense fit (A_TT, S, L, S^{-1}).
DENSE_COPIES = 4
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
class DenseInverse:
    """``S^{-1}``, dense, of which only the lower triangle is stored (LAPACK's ``potri``
    fills nothing else): mirroring it would take three more passes over q_T^2 entries at
    every gradient, and most readers need no more than one triangle."""

    lower: np.ndarray

    def entries(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """``S^{-1}[i, j]`` for ``i >= j`` (the lower triangle, as for the sparse kind)."""
        out: np.ndarray = self.lower[i, j]
        return out

    def row_traces(self, E: np.ndarray | None, scale: np.ndarray) -> np.ndarray:
        """``sum_g S^{-1}[a, g] E[a, g] scale[g]`` for every row ``a`` (E symmetric: the
        lower triangle of the product serves both halves)."""
        assert isinstance(E, np.ndarray)
        rows = np.einsum("ag,ag,g->a", self.lower, E, scale)  # g <= a
        columns = np.einsum("ga,ga,g->a", self.lower, E, scale)  # g >= a
        out: np.ndarray = rows + columns - np.diagonal(self.lower) * np.diagonal(E) * scale
        return out

    def dense(self) -> np.ndarray:
        """All of ``S^{-1}``, formed on request."""
        full: np.ndarray = self.lower + self.lower.T
        full[np.diag_indices_from(full)] -= np.diagonal(self.lower)
        return full


@dataclass(frozen=True)
class DenseTailFactor:
    """The dense lower Cholesky factor ``L`` of S (when its Schur complement is kept as
    pattern values, the packed :class:`~mixedmodels.core.densepairs.PairedTailFactor`
    stands in its place)."""

    L: np.ndarray

    def logdet(self) -> float:
        """``log det S``."""
        return 2.0 * float(np.sum(np.log(np.diag(self.L))))

    def solve_lower(self, B: np.ndarray) -> np.ndarray:
        """``L^{-1} B`` (in the factor's own order, here the original one)."""
        return solve_lower(self.L, B)

    def solve_upper(self, Y: np.ndarray) -> np.ndarray:
        """``L^{-T} Y`` in the original order: ``S^{-1} B = solve_upper(solve_lower(B))``."""
        return solve_lower(self.L, Y, transpose=True)

    def inverse(self) -> DenseInverse:
        """``S^{-1}`` (its lower triangle)."""
        with lapack_threads(self.L.shape[0]):
            inv, info = lapack.dpotri(self.L, lower=1)
        if info != 0:
            raise np.linalg.LinAlgError("the tail factor is singular")
        return DenseInverse(inv)


class DenseTail:
    """The tail as one dense block, factored by LAPACK.

    With ``pairs`` (scalar terms throughout, see :mod:`mixedmodels.core.densepairs`) the
    Schur complement of the first factor's Gram weights is formed on the pattern.
    """

    name = "dense"

    def __init__(self, q: int, pairs: PairMap | None = None) -> None:
        self.q = q
        self.pairs = pairs
        # on the pair pattern, S (factored in place) and its inverse are packed triangles
        self.bytes = (
            DENSE_COPIES * 8 * q * q
            if pairs is None
            else 2 * 8 * packed.size(q) + pairs.bytes + pairs.packed_bytes
        )
        self._dense_ztt: tuple[object, np.ndarray] | None = None
        self._paired_ztt: tuple[object, np.ndarray] | None = None

    def _ztt(self, ztt: np.ndarray | sp.csr_matrix) -> np.ndarray:
        if isinstance(ztt, np.ndarray):
            return ztt
        if self._dense_ztt is None or self._dense_ztt[0] is not ztt:
            self._dense_ztt = (ztt, ztt.toarray())
        return self._dense_ztt[1]

    def schur_gram(
        self,
        ztt: np.ndarray | sp.csr_matrix,
        gram: WeightedGram,
        w: np.ndarray,
        values: np.ndarray | None,
    ) -> np.ndarray:
        """``A_TT - Z diag(w) Z'`` for the first factor's scalar weights ``w``: on the
        pattern of ``pairs`` when there is one and Z has its own values (``values`` is
        None), else dense."""
        if self.pairs is not None and values is None:
            if self._paired_ztt is None or self._paired_ztt[0] is not ztt:
                self._paired_ztt = (ztt, self.pairs.lookup(ztt))
            out: np.ndarray = self._paired_ztt[1] - self.pairs.gram(w)
            return out
        return gram.subtract_from(self._ztt(ztt), w, values)

    def schur_product(self, ztt: np.ndarray | sp.csr_matrix, product: sp.csr_matrix) -> np.ndarray:
        """``A_TT - product`` for a sparse ``product`` (``A_T0 W A_0T``)."""
        out: np.ndarray = self._ztt(ztt) - product.toarray()
        return out

    def factor(
        self,
        D: np.ndarray,
        congruence: Callable[[np.ndarray], np.ndarray],
        scale: np.ndarray | None,
    ) -> DenseTailFactor | PairedTailFactor:
        """Factor ``congruence(D) + I`` (``congruence`` applies Lambda_T' . Lambda_T); a D
        of pattern values (from :meth:`schur_gram`) is scaled by the diagonal ``scale``."""
        if D.ndim == 1:
            assert self.pairs is not None and scale is not None
            return paired_schur(self.pairs, D.copy(), scale)
        S = congruence(D)
        S[np.diag_indices_from(S)] += 1.0
        with lapack_threads(S.shape[0]):
            return DenseTailFactor(cholesky_lower(S, overwrite=True))  # S is ours alone


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


TailKind = DenseTail | SparseTail | PairedSparseTail
TailFactor = DenseTailFactor | PairedTailFactor | SparseTailFactor[Any]


def _schur_pattern(ztt: np.ndarray | sp.csr_matrix, zt0: sp.csr_matrix) -> sp.csc_matrix:
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


def choose_tail(
    ztt: np.ndarray | sp.csr_matrix,
    zt0: sp.csr_matrix,
    tail_shapes: list[tuple[int, int]],
    cap: int | None = None,
    first_k: int = 1,
) -> TailKind:
    """The storage of the tail block, chosen by flops and memory (``first_k``: the first
    factor's coefficients per level). Scalar tail terms after a scalar first factor keep
    their Schur complement on the pattern of the pairs of tail levels (a
    :class:`~mixedmodels.linalg.pairmap.PairMap`): in a dense tail when the pairs are few
    enough, in the sparse one always.

    Raises
    ------
    ModelTooLargeError
        When the chosen layout needs more than ``cap`` bytes (default
        :data:`MAX_TAIL_BYTES`, or less when less is available now: a share
        :data:`AVAILABLE_SHARE` of :func:`available_bytes`).
    """
    if cap is None:
        now = available_bytes()
        cap = MAX_TAIL_BYTES if now is None else min(MAX_TAIL_BYTES, int(AVAILABLE_SHARE * now))
    q = int(zt0.shape[0])
    dense = DenseTail(q)
    kind: TailKind = dense
    scalar = all(k == 1 for _, k in tail_shapes)
    n_pairs = pair_count(zt0)
    on_pairs = scalar and first_k == 1 and n_pairs > 0
    pairs: PairMap | None = None
    forced = TAIL_KIND
    if scalar and (forced == "sparse" or (forced is None and q >= SPARSE_MIN_LEVELS)):
        candidate: SparseTail | PairedSparseTail | None = None
        if on_pairs:
            _check_size("sparse", PAIR_BUILD_BYTES * n_pairs, cap, tail_shapes, q)
            own = ztt if sp.issparse(ztt) else sp.csr_matrix(ztt)
            pairs = PairMap(zt0, own)
            if forced == "sparse" or 2 * pairs.size - q <= SPARSE_MAX_DENSITY * q * q:
                candidate = PairedSparseTail(pairs)
        else:
            pattern = _schur_pattern(ztt, zt0)
            if forced == "sparse" or pattern.nnz <= SPARSE_MAX_DENSITY * q * q:
                candidate = SparseTail(pattern, analyse(pattern, minimum_degree(pattern)), n_pairs)
        if candidate is not None:
            # fewer flops decide: the right-looking kernel runs about as fast per flop as
            # one large LAPACK call (8k items: 81 GFlop against the dense block's 158,
            # about 5 s an evaluation against 9 s; it once had to win by a factor of 2)
            cheaper = candidate.symbolic.flops < q**3 / 3
            if forced == "sparse" or cheaper or dense.bytes > cap:
                kind = candidate
    if kind is dense and on_pairs and n_pairs <= MAX_PAIRS and dense.bytes + 12 * MAX_PAIRS <= cap:
        if pairs is None:
            own = ztt if sp.issparse(ztt) else sp.csr_matrix(ztt)
            pairs = PairMap(zt0, own)
        kind = DenseTail(q, pairs)
    _check_size(kind.name, kind.bytes, cap, tail_shapes, q)
    if not isinstance(kind, DenseTail):
        release_freed()  # the ordering's and the analysis's arrays, before L
    return kind


#: Bytes building a pair map takes per pair at its peak (keys, values, the sort of the
#: keys and the index of every key), checked before it is built.
PAIR_BUILD_BYTES = 32


def _check_size(
    name: str, needed: int, cap: int, tail_shapes: list[tuple[int, int]], q: int
) -> None:
    """Refuse a layout that needs more than ``cap`` bytes, naming its size and why."""
    if needed > cap:
        levels = ", ".join(str(m) for m, _ in tail_shapes)
        raise ModelTooLargeError(
            f"the {name} factor of the grouping factors after the first "
            f"({levels} levels, {q} coefficients) needs about {needed / 2**30:.1f} GiB, "
            f"more than the {cap / 2**30:.1f} GiB this process can take now; fit fewer "
            "levels (merge rare levels), free memory, or raise "
            "mixedmodels.core.tailstorage.MAX_TAIL_BYTES"
        )
