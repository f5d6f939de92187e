"""The quadratic forms ``P_l = A_T0,l' H A_T0,l`` over the first factor's levels.

The analytic gradient and the conditional covariances of the first factor need, for each
of its levels l, ``P_l`` with ``H = Lambda_T S^{-1} Lambda_T'``. Only the entries of H
where two tail rows meet one first-factor level are read, and they all lie on the
pattern of S, so a dense or a sparse (selected) inverse serves equally.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.sparse as sp

from mixedmodels.core.pairinverse import PairPatternInverse
from mixedmodels.core.sparsetail import SparseInverse
from mixedmodels.core.tailstorage import DenseInverse
from mixedmodels.core.workspace import Factorization, Workspace

__all__ = ["LevelPairs", "PAIR_SLAB", "level_pairs", "scaled_lower_inverse", "tail_inverse_pairs"]

#: Most pairs of tail rows gathered at once (bounds the temporary memory to a few
#: hundred MB whatever the design).
PAIR_SLAB = 4_000_000


class LevelPairs:
    """The quadratic forms ``P_l = A_T0,l' H A_T0,l`` as one sparse map of H's entries.

    An entry is a (tail row, first-factor level) with a non-zero coefficient in any of
    the level's ``k0`` columns. ``P_l[a, b]`` sums ``H[i, j] v_a v_b`` over the pairs of
    entries of level l, so all of them are one sparse matrix (rows: ``(a, b, l)``;
    columns: the distinct entries ``(pair_rows[t], pair_cols[t])`` of H's lower
    triangle) applied to those entries of H.

    Parameters
    ----------
    zt0 : scipy.sparse.csr_matrix
        ``(q_T, m0 k0)``: Z_T'WZ0.
    m0, k0 : int
        Levels and coefficients of the first factor.
    """

    def __init__(self, zt0: sp.csr_matrix, m0: int, k0: int) -> None:
        coo = zt0.tocoo()
        keep = coo.data != 0.0
        rows, cols, data = coo.row[keep], coo.col[keep], coo.data[keep]
        q_t = zt0.shape[0]
        key = (cols // k0).astype(np.int64) * q_t + rows
        uniq, inverse = np.unique(key, return_inverse=True)
        self.q_t = q_t
        self.k0 = k0
        self.m0 = m0
        self.level = (uniq // q_t).astype(np.int64)
        self.row = (uniq % q_t).astype(np.int64)
        self.values = np.zeros((uniq.size, k0))
        np.add.at(self.values, (inverse, cols % k0), data)
        counts = np.bincount(self.level, minlength=m0).astype(np.int64)
        self.counts = counts
        self.starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        # levels with the same number of entries share one triangle of index pairs, so
        # the levels are taken grouped by their count; slabs of at most PAIR_SLAB pairs
        self.order = np.argsort(counts, kind="stable")
        sizes = (counts * (counts + 1) // 2)[self.order]
        total = np.concatenate([[0], np.cumsum(sizes)])
        self.slabs: list[tuple[int, int]] = []
        start = 0
        while start < m0:
            stop = int(np.searchsorted(total, total[start] + PAIR_SLAB, side="right")) - 1
            stop = min(max(stop, start + 1), m0)
            self.slabs.append((start, stop))
            start = stop
        self._n_pairs = int(total[-1])
        self._cache: list[sp.csr_matrix] | None = None

    @cached_property
    def _used(self) -> np.ndarray:
        """The flat lower-triangle index of every distinct entry of H that is read."""
        parts = [self._flat(a, b)[0] for a, b in self.slabs]
        used = np.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
        return used.astype(np.int64)

    @property
    def pair_rows(self) -> np.ndarray:
        """Row (the larger index) of every entry of H that is read."""
        rows: np.ndarray = self._used // self.q_t
        return rows

    @property
    def pair_cols(self) -> np.ndarray:
        """Column of every entry of H that is read."""
        cols: np.ndarray = self._used % self.q_t
        return cols

    def _flat(self, first: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For the levels ``order[first:stop]``: the flat lower-triangle index of H of
        every pair of entries, and the two entries."""
        levels = self.order[first:stop]
        counts = self.counts[levels]
        e1_parts, e2_parts = [], []
        for c in np.unique(counts):
            same = np.flatnonzero(counts == c)  # consecutive: the levels are sorted by count
            iu, ju = np.triu_indices(int(c))  # each unordered pair once
            base = self.starts[levels[same]][:, None]
            e1_parts.append((base + iu).ravel())
            e2_parts.append((base + ju).ravel())
        e1 = np.concatenate(e1_parts) if e1_parts else np.zeros(0, dtype=np.int64)
        e2 = np.concatenate(e2_parts) if e2_parts else np.zeros(0, dtype=np.int64)
        r1, r2 = self.row[e1], self.row[e2]
        flat = np.maximum(r1, r2) * self.q_t + np.minimum(r1, r2)
        return flat, e1, e2

    def _forms(self, first: int, stop: int) -> sp.csr_matrix:
        """The map ``h -> P_l`` for the levels ``order[first:stop]``, rows
        ``(a*k0 + b) * (stop - first) + position``."""
        flat, e1, e2 = self._flat(first, stop)
        column = np.searchsorted(self._used, flat)
        counts = self.counts[self.order[first:stop]]
        twice = e1 != e2  # (e1, e2) and (e2, e1)
        v1, v2 = self.values[e1], self.values[e2]
        k0 = self.k0
        # every row (a, b, level) is one contiguous run of pairs
        per_level = np.concatenate([[0], np.cumsum(counts * (counts + 1) // 2)])
        n_pairs = int(per_level[-1])
        weights = []
        for a in range(k0):
            for b in range(k0):
                w = v1[:, a] * v2[:, b]
                weights.append(np.where(twice, w + v2[:, a] * v1[:, b], w))
        indptr = np.concatenate([[0]] + [per_level[1:] + n_pairs * ab for ab in range(k0 * k0)])
        index_type = np.int32 if self._used.size < 2**31 else np.int64
        return sp.csr_matrix(
            (np.concatenate(weights), np.tile(column.astype(index_type), k0 * k0), indptr),
            shape=(k0 * k0 * (stop - first), self._used.size),
        )

    def quadratic_forms(self, h: np.ndarray) -> np.ndarray:
        """``P_l`` for every level, ``(k0, k0, m0)``, from ``h[t] = H[pair_rows[t],
        pair_cols[t]]``."""
        if self._cache is None and self._n_pairs <= 2 * PAIR_SLAB:
            self._cache = [self._forms(a, b) for a, b in self.slabs]
        forms = self._cache or (self._forms(a, b) for a, b in self.slabs)
        out = np.empty((self.k0, self.k0, self.m0))
        for part, (first, stop) in zip(forms, self.slabs, strict=True):
            out[:, :, self.order[first:stop]] = (part @ h).reshape(self.k0, self.k0, stop - first)
        return out

    def gathered_forms(self, lower: np.ndarray) -> np.ndarray:
        """``P_l`` for every level, ``(k0, k0, m0)``, reading H's lower triangle ``lower``
        (dense, ``q_T x q_T``) at each pair directly: no map of the distinct entries is
        built, which on a dense H costs more than the reads it saves."""
        flat_lower = lower.reshape(-1)
        k0 = self.k0
        out = np.zeros((k0, k0, self.m0))
        for first, stop in self.slabs:
            flat, e1, e2 = self._flat(first, stop)
            h = flat_lower[flat]
            level = self.level[e1]
            twice = e1 != e2
            v1, v2 = self.values[e1], self.values[e2]
            for a in range(k0):
                for b in range(k0):
                    w = v1[:, a] * v2[:, b]
                    w = np.where(twice, w + v2[:, a] * v1[:, b], w)
                    out[a, b] += np.bincount(level, w * h, minlength=self.m0)
        return out


def level_pairs(ws: Workspace) -> LevelPairs:
    """The workspace's LevelPairs, built on first use."""
    cached = ws.__dict__.get("_level_pairs")
    if cached is None:
        k0, _, m0 = ws._zz0.shape
        cached = LevelPairs(ws._zt0, m0, k0)
        ws.__dict__["_level_pairs"] = cached
    assert isinstance(cached, LevelPairs)
    return cached


def tail_inverse_pairs(
    ws: Workspace, fac: Factorization, inverse: DenseInverse | SparseInverse | PairPatternInverse
) -> tuple[LevelPairs, np.ndarray]:
    """The LevelPairs and ``h``, the entries of ``Lambda_T S^{-1} Lambda_T'`` it reads
    (``inverse``: the tail factor's ``S^{-1}``)."""
    pairs = level_pairs(ws)
    templates = fac.templates[1:]
    scale = ws.tail_scale(templates)
    if scale is not None:
        h = inverse.entries(pairs.pair_rows, pairs.pair_cols)
        return pairs, h * scale[pairs.pair_rows] * scale[pairs.pair_cols]
    H = inverse.dense()
    upper = tuple(T.T for T in templates)
    Ht = ws._lambda_t_left(upper, H)
    Ht = ws._lambda_t_left(upper, np.ascontiguousarray(Ht.T))
    out: np.ndarray = Ht[pairs.pair_rows, pairs.pair_cols]
    return pairs, out


def scaled_lower_inverse(ws: Workspace, fac: Factorization, inverse: DenseInverse) -> np.ndarray:
    """The lower triangle of ``Lambda_T S^{-1} Lambda_T'`` from a dense ``S^{-1}``."""
    templates = fac.templates[1:]
    scale = ws.tail_scale(templates)
    if scale is not None:
        scaled: np.ndarray = inverse.lower * scale[:, None]
        scaled *= scale[None, :]
        return scaled
    upper = tuple(T.T for T in templates)
    H = ws._lambda_t_left(upper, inverse.dense())
    full: np.ndarray = ws._lambda_t_left(upper, np.ascontiguousarray(H.T))
    return np.tril(full)
