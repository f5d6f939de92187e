"""A supernodal multifrontal Cholesky factorization on dense LAPACK blocks.

The symbolic phase (:func:`analyse`, once per pattern) postorders the elimination tree of
the permuted matrix, finds the fundamental supernodes, merges small ones into their parents
when few explicit zeros result (relaxed supernodes) and precomputes every scatter map, the
flop count and the number of stored entries. The numeric phase (:func:`factorize`, once
per set of values) runs one dense ``potrf`` / ``trsm`` / ``syrk`` per supernode on its
frontal matrix (Liu 1990; Davis 2006, chapters 4 and 9).

The updates are applied right-looking: once a supernode is factored, the products of its
rows below land straight in the panels of the supernodes that own those rows (all of them
later in the order, and all in L's storage from the start), a few hundred columns at a
time. There are no update matrices waiting for their parents, so the memory beside L is
one panel's copies and one block of products, not the trailing blocks of every child of
a dense root (which, on a 30,000-item design, took more than L itself).

Every supernode's panel ``[L11; L21]`` is stored column-major in one flat buffer, so that
other kernels (the selected inverse) can address an entry of L by one integer. A panel with
no rows below (a root of the elimination tree: on a crossed design, the dense core of the
popular items) keeps only its lower triangle, in LAPACK's rectangular full packed format
(:mod:`mixedmodels.linalg.packed`), factored by ``dpftrf`` and inverted by ``dpftri`` in
place: half the storage of its square, for both L and the selected inverse.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas, lapack

from mixedmodels._threads import lapack_threads, one_blas_thread
from mixedmodels.linalg import packed
from mixedmodels.linalg.ordering import elimination_tree, postorder

__all__ = [
    "UPDATE_COLUMNS",
    "Symbolic",
    "SupernodalFactor",
    "analyse",
    "factor_in_place",
    "factorize",
    "owner_runs",
    "panel_threads",
]

#: Relaxation: merge a child into its parent when the merged supernode has at most
#: ``columns`` columns and at most this share of explicit zeros.
RELAX: tuple[tuple[int, float], ...] = ((4, 1.0), (16, 0.8), (48, 0.1))
#: Merge whatever the size when the share of explicit zeros stays below this.
RELAX_ANY = 0.05
#: Columns of a supernode's update formed at once (one ``rows x UPDATE_COLUMNS`` block of
#: products, by both the factorization and the selected inverse).
UPDATE_COLUMNS = 256


@dataclass(frozen=True)
class Symbolic:
    """The symbolic factorization of one pattern, shared by every set of values.

    Attributes
    ----------
    n : int
        Order of the matrix.
    perm : numpy.ndarray
        ``perm[k]``: the original index eliminated k-th.
    position : numpy.ndarray
        The inverse of ``perm``.
    first : numpy.ndarray
        Supernode ``s`` owns the permuted columns ``first[s]:first[s + 1]``.
    rows : tuple of numpy.ndarray
        The sorted permuted row indices below each supernode's diagonal block.
    parent : numpy.ndarray
        The parent supernode (-1 for a root).
    offsets : numpy.ndarray
        Start of each panel in the flat storage of L (``offsets[-1]`` entries in all).
    front_keys : numpy.ndarray
        ``s * n + r`` for every row ``r`` of every front (columns then rows below),
        sorted: where an entry of L lives.
    front_starts : numpy.ndarray
        Start of each supernode's front in ``front_keys``.
    column_node : numpy.ndarray
        The supernode of every permuted column.
    flops : float
        Floating-point operations of one numeric factorization.
    pattern_positions : numpy.ndarray or None
        Where each entry of the analysed matrix (its CSC order, full pattern) lives in L's
        flat storage: its own slot, or its transpose's for an entry above the diagonal
        in the permuted order (both hold the same value of a symmetric matrix). Reading
        entries of L (or of the selected inverse) on A's pattern this way needs no search
        (:meth:`locate` is for any entry of L). None after :meth:`without_pattern`.
    max_front : int
        Rows of the largest front.
    peak_work : int
        Doubles alive beside L (or beside L and the selected inverse) at the worst moment
        of a factorization (or of the selected inverse): one panel's copies and products.
    packed : numpy.ndarray
        Whether each supernode's panel is its lower triangle alone, packed (the panels
        with no rows below).
    """

    n: int
    perm: np.ndarray
    position: np.ndarray
    first: np.ndarray
    rows: tuple[np.ndarray, ...]
    parent: np.ndarray
    offsets: np.ndarray
    front_keys: np.ndarray
    front_starts: np.ndarray
    column_node: np.ndarray
    pattern_positions: np.ndarray | None
    flops: float
    max_front: int
    peak_work: int
    packed: np.ndarray
    _runs: dict[int, list[tuple[int, int, int, np.ndarray, np.ndarray]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def without_pattern(self) -> Symbolic:
        """The same analysis without :attr:`pattern_positions` (8 bytes an entry of the
        analysed matrix), for a caller that keeps its own map into L."""
        return replace(self, pattern_positions=None, _runs=self._runs)

    @property
    def nnz(self) -> int:
        """Entries stored for L (explicit zeros of relaxed supernodes included)."""
        return int(self.offsets[-1])

    @property
    def peak_entries(self) -> int:
        """The doubles alive at the worst moment of a factorization: L and one panel's
        copies and products (the selected inverse needs as many again, beside L)."""
        return self.nnz + self.peak_work

    def locate(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Positions in L's flat storage of the entries ``(i, j)`` (original indices; the
        lower one of ``(i, j)`` and ``(j, i)`` in the permuted order is taken).

        Raises
        ------
        KeyError
            When an entry lies outside L's pattern.
        """
        pi = self.position[np.asarray(i, dtype=np.int64)]
        pj = self.position[np.asarray(j, dtype=np.int64)]
        row, col = np.maximum(pi, pj), np.minimum(pi, pj)
        node = self.column_node[col]
        key = node * self.n + row
        at = np.searchsorted(self.front_keys, key)
        found = at < self.front_keys.size
        found[found] = self.front_keys[at[found]] == key[found]
        if not np.all(found):
            raise KeyError("an entry outside the pattern of the factor")
        local_row = at - self.front_starts[node]
        local_col = col - self.first[node]
        height = self.front_starts[node + 1] - self.front_starts[node]
        out: np.ndarray = self.offsets[node] + local_col * height + local_row
        in_triangle = self.packed[node]
        for t in np.unique(node[in_triangle]):
            here = node == t
            out[here] = self.offsets[t] + packed.offsets(
                int(height[here][0]), local_row[here], local_col[here]
            )
        return out


def _fundamental(
    low: sp.csc_matrix, parent: np.ndarray
) -> tuple[list[int], list[np.ndarray], np.ndarray]:
    """Fundamental supernodes: first columns, row structures and column counts."""
    n = low.shape[0]
    indptr, indices = low.indptr, low.indices
    nchild = np.bincount(parent[parent >= 0], minlength=n)
    first: list[int] = []
    rows: list[np.ndarray] = []
    colcount = np.zeros(n, dtype=np.int64)
    pending: dict[int, list[np.ndarray]] = {}  # column -> the row sets of its children
    j = 0
    while j < n:
        parts = [indices[indptr[j] : indptr[j + 1]]]
        parts += pending.pop(j, [])
        struct = np.unique(np.concatenate(parts)) if len(parts) > 1 else parts[0]
        struct = struct[struct > j]
        first.append(j)
        colcount[j] = struct.size
        # extend while the next column is this one's only parent with the same structure
        while j + 1 < n and parent[j] == j + 1 and nchild[j + 1] == 1 and j + 1 not in pending:
            below = indices[indptr[j + 1] : indptr[j + 2]]
            below = below[below > j + 1]
            tail = struct[1:]
            if below.size and not np.all(np.isin(below, tail, assume_unique=True)):
                break
            j += 1
            struct = tail
            colcount[j] = struct.size
        rows.append(struct)
        if struct.size:
            pending.setdefault(int(struct[0]), []).append(struct)
        j += 1
    return first, rows, colcount


def _relax(
    first: list[int], rows: list[np.ndarray], colcount: np.ndarray, n: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Merge each supernode into its parent when its columns come just before the
    parent's and the merged panel gains few explicit zeros."""
    nsup = len(first)
    first_arr = np.asarray(first + [n], dtype=np.int64)
    col_sn = np.repeat(np.arange(nsup), np.diff(first_arr))
    sn_parent = [int(col_sn[r[0]]) if r.size else -1 for r in rows]
    ncol = np.diff(first_arr).tolist()
    true_nnz = [int(ncol[s] + colcount[first_arr[s] : first_arr[s + 1]].sum()) for s in range(nsup)]
    done: dict[int, tuple[int, int, int]] = {}  # top supernode -> (start, columns, entries)
    for s in range(nsup):
        start, cols, true = s, ncol[s], true_nnz[s]
        below = rows[s].size
        while start - 1 in done and sn_parent[start - 1] == s:
            g_start, g_cols, g_true = done[start - 1]
            tot = g_cols + cols
            panel = tot * (tot + 1) // 2 + tot * below
            zeros = (panel - g_true - true) / panel
            if not (zeros <= RELAX_ANY or any(tot <= lim and zeros <= z for lim, z in RELAX)):
                break
            del done[start - 1]
            start, cols, true = g_start, tot, g_true + true
        done[s] = (start, cols, true)
    tops = sorted(done)
    firsts = np.asarray([first_arr[done[t][0]] for t in tops] + [n], dtype=np.int64)
    return firsts, [rows[t] for t in tops]


def analyse(A: sp.csr_matrix | sp.csc_matrix, perm: np.ndarray) -> Symbolic:
    """The symbolic factorization of the symmetric ``A`` in the order ``perm``.

    Parameters
    ----------
    A : scipy.sparse matrix
        Square with a symmetric pattern, every diagonal entry stored. The values are not
        read: :func:`factorize` takes the ``data`` of this matrix in CSC form.
    perm : numpy.ndarray
        A fill-reducing order (``perm[k]``: the index eliminated k-th); it is refined by a
        postorder of the elimination tree, which changes no fill.
    """
    C = sp.csc_matrix(A)
    C.sort_indices()
    n = C.shape[0]
    idx = sp.csc_matrix((np.arange(C.nnz, dtype=np.float64) + 1.0, C.indices, C.indptr), C.shape)
    perm = np.asarray(perm, dtype=np.int64)
    low0 = sp.tril(idx[perm][:, perm], format="csc")
    tree = elimination_tree(low0)
    post = postorder(tree)
    perm = perm[post]
    low = sp.csc_matrix(sp.tril(idx[perm][:, perm]))
    low.sort_indices()
    data_map = low.data.astype(np.int64) - 1
    # the tree of the postordered matrix is the same tree relabelled (no second pass)
    relabel = np.empty(n, dtype=np.int64)
    relabel[post] = np.arange(n)
    above = tree[post]
    parent = np.where(above >= 0, relabel[np.maximum(above, 0)], -1)
    first, rows, colcount = _fundamental(low, parent)
    firsts, grows = _relax(first, rows, colcount, n)
    ng = firsts.size - 1
    col_g = np.repeat(np.arange(ng), np.diff(firsts))
    gparent = np.array([col_g[r[0]] if r.size else -1 for r in grows], dtype=np.int64)
    fronts = [np.concatenate([np.arange(firsts[g], firsts[g + 1]), grows[g]]) for g in range(ng)]
    indptr, indices = low.indptr, low.indices
    a_dst = []
    flops = 0.0
    sizes = np.zeros(ng, dtype=np.int64)
    in_triangle = np.array([r.size == 0 for r in grows], dtype=bool)
    for g in range(ng):
        f, last = int(firsts[g]), int(firsts[g + 1])
        lo, hi = indptr[f], indptr[last]
        col = np.repeat(np.arange(last - f), np.diff(indptr[f : last + 1]))
        m = fronts[g].size
        local_row = np.searchsorted(fronts[g], indices[lo:hi])
        k, b = last - f, grows[g].size
        if in_triangle[g]:
            a_dst.append(packed.offsets(k, local_row, col))
            sizes[g] = packed.size(k)
        else:
            a_dst.append(local_row + col * m)
            sizes[g] = m * k
        flops += k**3 / 3 + k * k * b + k * b * b
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    # the panels follow the columns, so the lower triangle's entries come in panel order
    value_dst = np.concatenate(
        [offsets[g] + a_dst[g] for g in range(ng)] if ng else [np.zeros(0, dtype=np.int64)]
    )
    peak = _peak_work([r.size for r in grows], np.diff(firsts))
    heights = np.array([f.size for f in fronts], dtype=np.int64)
    front_starts = np.concatenate([[0], np.cumsum(heights)]).astype(np.int64)
    keys = np.concatenate(
        [g * n + fronts[g] for g in range(ng)] if ng else [np.zeros(0, dtype=np.int64)]
    )
    value_dst = value_dst.astype(np.int64)
    return Symbolic(
        n=n,
        perm=perm,
        position=np.argsort(perm).astype(np.int64),
        first=firsts,
        rows=tuple(grows),
        parent=gparent,
        offsets=offsets,
        front_keys=keys.astype(np.int64),
        front_starts=front_starts,
        column_node=col_g.astype(np.int64),
        pattern_positions=_pattern_positions(C, data_map, value_dst),
        flops=flops,
        max_front=int(heights.max()) if ng else 0,
        peak_work=peak,
        packed=in_triangle,
    )


def _pattern_positions(C: sp.csc_matrix, data_map: np.ndarray, value_dst: np.ndarray) -> np.ndarray:
    """L's storage position of every entry of the symmetric ``C`` (CSC, sorted): the
    permuted lower triangle's entries have theirs (``value_dst``); each other entry takes
    its transpose's. The transpose's index comes from reading C's CSC arrays as CSR (the
    transpose, holding each entry's own index) and converting that to CSC."""
    out = np.full(C.nnz, -1, dtype=np.int64)
    out[data_map] = value_dst
    above = out < 0
    if np.any(above):
        index = np.arange(C.nnz, dtype=np.int64)
        transpose = sp.csr_matrix((index, C.indices, C.indptr), shape=C.shape).tocsc()
        transpose.sort_indices()
        out[above] = out[transpose.data[above]]
    return out


def _peak_work(below: list[int], columns: np.ndarray) -> int:
    """The most doubles either kernel holds beside its own output, over the panels.

    A panel without rows below is factored and inverted in place. One with ``b`` rows
    below and ``k`` columns, its update formed ``w`` columns at a time, costs the
    factorization a copy of its diagonal block, two of its rows below (LAPACK's input must
    be contiguous: the rows below, and those of one block), a ``b x w`` block of products
    and two of its columns gathered; and the selected inverse three ``k x k`` blocks,
    three ``b x k`` products, a ``b x w`` block of the inverse and three ``w x w``
    (its diagonal block mirrored)."""
    peak = 0
    for k, b in zip(columns.tolist(), below, strict=True):
        if b:
            w = min(b, UPDATE_COLUMNS)
            factor = k * k + 2 * b * k + w * k + b * w + 2 * b
            inverse = 3 * k * k + 3 * b * k + b * w + 3 * w * w
            peak = max(peak, factor, inverse)
    return int(peak)


def owner_runs(sym: Symbolic, s: int) -> list[tuple[int, int, int, np.ndarray, np.ndarray]]:
    """How the rows below supernode ``s`` sit in the supernodes that own them.

    For each run of rows owned by one supernode: the run's bounds in ``rows[s]``, that
    supernode, the positions in its front of ``rows[s]`` from the run on, and the run's
    local columns there.
    """
    known = sym._runs.get(s)
    if known is not None:
        return known
    rows = sym.rows[s]
    owner = sym.column_node[rows]
    cuts = np.concatenate([[0], np.flatnonzero(np.diff(owner)) + 1, [rows.size]])
    out = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        t = int(owner[a])
        keys = t * sym.n + rows[a:]
        rel = np.searchsorted(sym.front_keys, keys) - sym.front_starts[t]
        out.append((int(a), int(b), t, rel, rows[a:b] - sym.first[t]))
    sym._runs[s] = out  # both kernels ask for every panel's runs at every evaluation
    return out


@dataclass(frozen=True)
class SupernodalFactor:
    """The Cholesky factor L of ``A[perm][:, perm]``, panel by panel.

    Attributes
    ----------
    symbolic : Symbolic
    values : numpy.ndarray
        The flat storage of every panel (see :attr:`Symbolic.offsets`).
    """

    symbolic: Symbolic
    values: np.ndarray

    def panel(self, s: int) -> np.ndarray:
        """Supernode ``s``'s panel ``[L11; L21]`` (a column-major view); not for a packed
        panel (:meth:`triangle`)."""
        sym = self.symbolic
        if sym.packed[s]:
            raise ValueError(f"supernode {s} keeps its lower triangle packed")
        k = int(sym.first[s + 1] - sym.first[s])
        m = k + sym.rows[s].size
        out: np.ndarray = self.values[sym.offsets[s] : sym.offsets[s + 1]].reshape(
            (m, k), order="F"
        )
        return out

    def triangle(self, s: int) -> np.ndarray:
        """A packed supernode's lower triangle (a view of its flat storage)."""
        sym = self.symbolic
        out: np.ndarray = self.values[sym.offsets[s] : sym.offsets[s + 1]]
        return out

    def dense_panel(self, s: int) -> np.ndarray:
        """Supernode ``s``'s panel as a new column-major array (a packed triangle
        unpacked, with zeros above its diagonal)."""
        if not self.symbolic.packed[s]:
            return np.array(self.panel(s), order="F")
        k = self.columns(s)
        out = np.zeros((k, k), order="F")
        flat = self.triangle(s)
        for j in range(k):
            out[j:, j] = packed.column(flat, k, j)
        return out

    def columns(self, s: int) -> int:
        """Supernode ``s``'s columns."""
        return int(self.symbolic.first[s + 1] - self.symbolic.first[s])

    def diagonal(self, s: int) -> np.ndarray:
        """The diagonal of supernode ``s``'s block."""
        if self.symbolic.packed[s]:
            out: np.ndarray = self.triangle(s)[packed.diagonal(self.columns(s))]
            return out
        P = self.panel(s)
        return np.diagonal(P[: P.shape[1]])

    def logdet(self) -> float:
        """``log det A = log|L|^2``."""
        total = 0.0
        for s in range(self.symbolic.first.size - 1):
            total += float(np.log(self.diagonal(s)).sum())
        return 2.0 * total

    def solve_lower(self, B: np.ndarray) -> np.ndarray:
        """``L^{-1} B[perm]`` for right-hand sides ``B`` in the original order (a vector
        or ``(n, r)``); the result is in the permuted order."""
        sym = self.symbolic
        Y = np.array(B[sym.perm], dtype=np.float64, order="C")
        Y2 = Y.reshape(sym.n, -1)
        for s in range(sym.first.size - 1):
            f, last = int(sym.first[s]), int(sym.first[s + 1])
            if sym.packed[s]:
                Y2[f:last] = lapack.dtfsm(1.0, self.triangle(s), Y2[f:last], uplo="L")
                continue
            P = self.panel(s)
            k = last - f
            y = blas.dtrsm(1.0, P[:k], Y2[f:last], side=0, lower=1)
            Y2[f:last] = y
            if P.shape[0] > k:
                Y2[sym.rows[s]] -= P[k:] @ y
        return Y

    def solve_upper(self, Y: np.ndarray) -> np.ndarray:
        """``(L^{-T} Y)`` taken back to the original order, for ``Y`` in the permuted
        order (as :meth:`solve_lower` gives it): ``A^{-1} B = solve_upper(solve_lower(B))``."""
        sym = self.symbolic
        X = np.array(Y, dtype=np.float64, order="C")
        X2 = X.reshape(sym.n, -1)
        for s in range(sym.first.size - 2, -1, -1):
            f, last = int(sym.first[s]), int(sym.first[s + 1])
            if sym.packed[s]:
                X2[f:last] = lapack.dtfsm(1.0, self.triangle(s), X2[f:last], uplo="L", trans="T")
                continue
            P = self.panel(s)
            k = last - f
            rhs = X2[f:last]
            if P.shape[0] > k:
                rhs = rhs - P[k:].T @ X2[sym.rows[s]]
            X2[f:last] = blas.dtrsm(1.0, P[:k], rhs, side=0, lower=1, trans_a=1)
        out = np.empty_like(X)
        out[sym.perm] = X
        return out


def factorize(sym: Symbolic, data: np.ndarray) -> SupernodalFactor:
    """The numeric factorization of the matrix whose CSC ``data`` has ``sym``'s pattern.

    Raises
    ------
    numpy.linalg.LinAlgError
        When the matrix is not positive definite.
    """
    if sym.pattern_positions is None:
        raise ValueError("this analysis no longer maps its matrix's entries into L")
    values = np.zeros(sym.nnz)
    # an entry above the diagonal writes its transpose's place with the same value
    values[sym.pattern_positions] = np.asarray(data, dtype=np.float64)
    return factor_in_place(sym, values)


def factor_in_place(sym: Symbolic, values: np.ndarray) -> SupernodalFactor:
    """The numeric factorization of the matrix already scattered into L's flat storage
    ``values`` (its permuted lower triangle at its places, zeros elsewhere), which it
    overwrites.

    Raises
    ------
    numpy.linalg.LinAlgError
        When the matrix is not positive definite.
    """
    factor = SupernodalFactor(sym, values)
    with one_blas_thread():
        for g in range(sym.first.size - 1):
            with panel_threads(sym, g):
                _factor_panel(factor, g)
    return factor


def panel_threads(sym: Symbolic, s: int) -> AbstractContextManager[Any]:
    """The BLAS threads for supernode ``s``'s panel: those of a dense factorization of the
    same work (:func:`~mixedmodels._threads.lapack_threads`), inside the one thread the
    kernels set for all panels (a thread pool's start costs more than a small panel's
    work: on the 8k long-tail design, 277 small panels took 0.6 s of the selected
    inverse's 4 s on two threads)."""
    k = int(sym.first[s + 1] - sym.first[s])
    b = sym.rows[s].size
    work = k**3 / 3 + k * k * b + k * b * b  # a dense order n costs n^3 / 3
    return lapack_threads(round((3.0 * work) ** (1.0 / 3.0)))


def _factor_panel(factor: SupernodalFactor, g: int) -> None:
    """Factor supernode ``g``'s panel and subtract its update from the later panels."""
    if factor.symbolic.packed[g]:  # no rows below: its packed triangle, in place
        _, info = lapack.dpftrf(factor.columns(g), factor.triangle(g), uplo="L", overwrite_a=1)
        _check(info, g)
        return
    P = factor.panel(g)
    k = P.shape[1]
    L11, info = lapack.dpotrf(P[:k], lower=1, clean=1)
    _check(info, g)
    P[:k] = L11
    L21 = blas.dtrsm(1.0, L11, P[k:], side=1, lower=1, trans_a=1)
    P[k:] = L21
    _update_owners(factor, g, L21)


def _update_owners(factor: SupernodalFactor, s: int, L21: np.ndarray) -> None:
    """Subtract ``L21 L21'`` (lower triangle) from the panels that own supernode ``s``'s
    rows below, a block of columns at a time."""
    sym = factor.symbolic
    for a, stop, t, rel, cols in owner_runs(sym, s):
        subtract = _into_triangle if sym.packed[t] else _into_panel
        for c0 in range(a, stop, UPDATE_COLUMNS):
            c1 = min(c0 + UPDATE_COLUMNS, stop)
            block = blas.dgemm(1.0, L21[c0:], L21[c0:c1], trans_b=1)  # rows c0:, cols c0:c1
            rows = rel[c0 - a :]
            columns = cols[c0 - a : c1 - a]
            consecutive = bool(
                rows[-1] - rows[0] + 1 == rows.size and columns[-1] - columns[0] == columns.size - 1
            )
            subtract(factor, t, block, rows, columns, consecutive)


def _into_panel(
    factor: SupernodalFactor,
    t: int,
    block: np.ndarray,
    rows: np.ndarray,
    columns: np.ndarray,
    consecutive: bool,
) -> None:
    """Subtract a block of products from the rows ``rows`` and columns ``columns`` of
    panel ``t`` (``block[x, y]`` for ``x >= y``)."""
    T = factor.panel(t)
    if consecutive:
        # one slice (the few entries it writes above the diagonal of t's block are
        # cleared when t is factored)
        c = int(columns[0])
        T[rows[0] : rows[-1] + 1, c : c + columns.size] -= block
        return
    for y in range(columns.size):  # a column of an F-ordered panel is contiguous
        column = T[:, columns[y]]
        column[rows[y:]] -= block[y:, y]


def _into_triangle(
    factor: SupernodalFactor,
    t: int,
    block: np.ndarray,
    rows: np.ndarray,
    columns: np.ndarray,
    consecutive: bool,
) -> None:
    """:func:`_into_panel` for the packed supernode ``t`` (its rows are its columns, so
    ``rows[:columns.size]`` are ``columns``)."""
    flat = factor.triangle(t)
    n = factor.columns(t)
    if consecutive:
        packed.subtract_block(flat, n, int(rows[0]), int(columns[0]), block)
    else:
        packed.subtract_lower(flat, n, rows, block)


def _check(info: int, s: int) -> None:
    if info != 0:
        raise np.linalg.LinAlgError(f"not positive definite (supernode {s}, minor {info})")
