"""How the tail block of L is stored: dense, or sparse supernodal.

Everything after the first grouping factor (the tail) meets in the Schur complement
``S = Lambda_T'(A_TT - A_T0 W A_0T) Lambda_T + I``. With few tail levels, or a dense S,
it is one dense LAPACK block (:class:`DenseTail`). With many levels whose S is sparse (a
long tail of rarely seen items) it is factored by the supernodal kernel after a
minimum-degree order (:class:`~mixedmodels.core.sparsepairs.PairedSparseTail` after a
scalar first factor, :class:`~mixedmodels.core.sparsetail.SparseTail` otherwise). The
kind is chosen once per fit, from the flop count and the memory of each layout
(:func:`choose_tail`). All give the same factor interface (:class:`DenseTailFactor`,
:class:`SparseTailFactor`): a log-determinant, triangular solves and the entries of
``S^{-1}`` that the gradient reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

from mixedmodels._threads import lapack_threads
from mixedmodels.core.densepairs import PairedTailFactor, paired_schur
from mixedmodels.core.memory import available_bytes, memory_cap, release_freed
from mixedmodels.core.sparsefactor import SparseTailFactor
from mixedmodels.core.sparsepairs import PairedSparseTail
from mixedmodels.core.sparsetail import SparseTail, schur_pattern
from mixedmodels.errors import ModelTooLargeError
from mixedmodels.linalg import packed
from mixedmodels.linalg.dense import cholesky_lower, solve_lower
from mixedmodels.linalg.ordering import minimum_degree
from mixedmodels.linalg.pairmap import MAX_PAIRS, PairMap, pair_count
from mixedmodels.linalg.supernodal import analyse
from mixedmodels.linalg.weightedgram import WeightedGram

__all__ = [
    "DenseInverse",
    "DenseTail",
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


TailKind = DenseTail | SparseTail | PairedSparseTail
TailFactor = DenseTailFactor | PairedTailFactor | SparseTailFactor[Any]


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
            pattern = schur_pattern(ztt, zt0)
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
