"""A supernodal multifrontal Cholesky factorization on dense LAPACK blocks.

The symbolic phase (:func:`analyse`, once per pattern) postorders the elimination tree of
the permuted matrix, finds the fundamental supernodes, merges small ones into their parents
when few explicit zeros result (relaxed supernodes) and precomputes every scatter map, the
flop count and the number of stored entries. The numeric phase (:func:`factorize`, once
per set of values) runs one dense ``potrf`` / ``trsm`` / ``syrk`` per supernode on its
frontal matrix (Liu 1990; Davis 2006, chapters 4 and 9).

Each supernode's update matrix is added into its parent's front as soon as the supernode
is factored: into the parent's panel, which lives in L's storage from the start, and into
the parent's trailing block. The trailing blocks are opened in postorder as a stack (a
block is opened when the first supernode of its subtree is reached, so every block opened
later is closed earlier), carved from one buffer whose size the analysis gives. So no
update matrix waits for its parent, and memory beyond L is the trailing blocks along one
path of the tree, not every child of the root at once.

Every supernode's panel ``[L11; L21]`` is stored column-major in one flat buffer, so that
other kernels (the selected inverse) can address an entry of L by one integer.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas, lapack

from mixedmodels.linalg.ordering import elimination_tree, postorder

__all__ = ["Symbolic", "SupernodalFactor", "analyse", "factorize"]

#: Relaxation: merge a child into its parent when the merged supernode has at most
#: ``columns`` columns and at most this share of explicit zeros.
RELAX: tuple[tuple[int, float], ...] = ((4, 1.0), (16, 0.8), (48, 0.1))
#: Merge whatever the size when the share of explicit zeros stays below this.
RELAX_ANY = 0.05
#: Updates with at least this many rows are added column by column.
COLUMNWISE = 64


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
    data_map : numpy.ndarray
        The permuted lower triangle's values are ``data[data_map]``, for the ``data`` of a
        full-pattern CSC matrix with this pattern.
    first : numpy.ndarray
        Supernode ``s`` owns the permuted columns ``first[s]:first[s + 1]``.
    rows : tuple of numpy.ndarray
        The sorted permuted row indices below each supernode's diagonal block.
    parent : numpy.ndarray
        The parent supernode (-1 for a root).
    children : tuple of tuple of int
        Each supernode's children, in increasing order.
    child_rel : tuple of tuple of numpy.ndarray
        The positions of each child's rows in the front.
    value_dst : numpy.ndarray
        The positions in L's flat storage of the permuted lower triangle's entries.
    opens : tuple of tuple of int
        The supernodes whose trailing blocks open when each supernode is reached (those
        whose subtree starts there, the highest first).
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
    max_front : int
        Rows of the largest front.
    stack_entries : int
        Doubles of the trailing blocks open at once, at most (the buffer they share).
    peak_work : int
        Doubles alive beside L (or beside L and the selected inverse) at the worst moment
        of a factorization (or of the selected inverse): the trailing blocks, one front's
        copies and products.
    """

    n: int
    perm: np.ndarray
    position: np.ndarray
    data_map: np.ndarray
    first: np.ndarray
    rows: tuple[np.ndarray, ...]
    parent: np.ndarray
    children: tuple[tuple[int, ...], ...]
    child_rel: tuple[tuple[np.ndarray, ...], ...]
    value_dst: np.ndarray
    opens: tuple[tuple[int, ...], ...]
    offsets: np.ndarray
    front_keys: np.ndarray
    front_starts: np.ndarray
    column_node: np.ndarray
    flops: float
    max_front: int
    stack_entries: int
    peak_work: int

    @property
    def nnz(self) -> int:
        """Entries stored for L (explicit zeros of relaxed supernodes included)."""
        return int(self.offsets[-1])

    @property
    def peak_entries(self) -> int:
        """The doubles alive at the worst moment of a factorization: L, the open
        trailing blocks and one front's copies (the selected inverse needs as many
        again, beside L)."""
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
    perm = perm[postorder(elimination_tree(low0))]
    low = sp.csc_matrix(sp.tril(idx[perm][:, perm]))
    low.sort_indices()
    data_map = low.data.astype(np.int64) - 1
    parent = elimination_tree(low)
    first, rows, colcount = _fundamental(low, parent)
    firsts, grows = _relax(first, rows, colcount, n)
    ng = firsts.size - 1
    col_g = np.repeat(np.arange(ng), np.diff(firsts))
    gparent = np.array([col_g[r[0]] if r.size else -1 for r in grows], dtype=np.int64)
    children: list[list[int]] = [[] for _ in range(ng)]
    for g in range(ng):
        if gparent[g] >= 0:
            children[int(gparent[g])].append(g)
    fronts = [np.concatenate([np.arange(firsts[g], firsts[g + 1]), grows[g]]) for g in range(ng)]
    child_rel = tuple(
        tuple(np.searchsorted(fronts[g], grows[c]) for c in children[g]) for g in range(ng)
    )
    indptr, indices = low.indptr, low.indices
    a_dst = []
    flops = 0.0
    sizes = np.zeros(ng, dtype=np.int64)
    for g in range(ng):
        f, last = int(firsts[g]), int(firsts[g + 1])
        lo, hi = indptr[f], indptr[last]
        col = np.repeat(np.arange(last - f), np.diff(indptr[f : last + 1]))
        m = fronts[g].size
        a_dst.append(np.searchsorted(fronts[g], indices[lo:hi]) + col * m)
        k, b = last - f, grows[g].size
        sizes[g] = m * k
        flops += k**3 / 3 + k * k * b + k * b * b
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    # the panels follow the columns, so the lower triangle's entries come in panel order
    value_dst = np.concatenate(
        [offsets[g] + a_dst[g] for g in range(ng)] if ng else [np.zeros(0, dtype=np.int64)]
    )
    opens, stack, peak = _trailing_stack(children, [r.size for r in grows], np.diff(firsts))
    heights = np.array([f.size for f in fronts], dtype=np.int64)
    front_starts = np.concatenate([[0], np.cumsum(heights)]).astype(np.int64)
    keys = np.concatenate(
        [g * n + fronts[g] for g in range(ng)] if ng else [np.zeros(0, dtype=np.int64)]
    )
    return Symbolic(
        n=n,
        perm=perm,
        position=np.argsort(perm).astype(np.int64),
        data_map=data_map,
        first=firsts,
        rows=tuple(grows),
        parent=gparent,
        children=tuple(tuple(c) for c in children),
        child_rel=child_rel,
        value_dst=value_dst.astype(np.int64),
        opens=opens,
        offsets=offsets,
        front_keys=keys.astype(np.int64),
        front_starts=front_starts,
        column_node=col_g.astype(np.int64),
        flops=flops,
        max_front=int(heights.max()) if ng else 0,
        stack_entries=stack,
        peak_work=peak,
    )


def _trailing_stack(
    children: list[list[int]], below: list[int], columns: np.ndarray
) -> tuple[tuple[tuple[int, ...], ...], int, int]:
    """When each trailing block opens, the most doubles the open blocks take, and the
    most doubles either kernel holds beside its own output.

    A panel without rows below is factored and inverted in place. One with ``b`` rows
    below and ``k`` columns costs the factorization a copy of its diagonal block and of
    its rows below (LAPACK's input must be contiguous) and the temporaries of adding its
    update to the parent, beside the open blocks; and the selected inverse ``b^2`` (the
    inverse on its rows), two ``b x k`` products and three ``k x k`` blocks."""
    ng = len(below)
    start = np.arange(ng)
    for g in range(ng):  # children come before their parent in postorder
        if children[g]:
            start[g] = min(start[c] for c in children[g])
    opens: list[list[int]] = [[] for _ in range(ng)]
    for g in range(ng - 1, -1, -1):
        if below[g]:
            opens[int(start[g])].append(g)
    top = stack = peak = 0
    for g in range(ng):
        top += sum(below[a] ** 2 for a in opens[g])
        stack = max(stack, top)
        k, b = int(columns[g]), below[g]
        if b:
            # the extend-add's temporaries: two gathered blocks and their indices for
            # a small update, two columns for a large one
            scatter = 4 * b * b if b < COLUMNWISE else 2 * b
            peak = max(peak, top + k * k + b * k, top + scatter, b * b + 2 * b * k + 3 * k * k)
        top -= b * b
    return tuple(tuple(o) for o in opens), int(stack), int(peak)


def _extend_add(
    P: np.ndarray, T: np.ndarray | None, U: np.ndarray, rel: np.ndarray, k: int
) -> None:
    """Add a child's update ``U`` (lower triangle; rows at ``rel`` in the front) to the
    panel ``P`` (the front's first ``k`` columns) and to ``T`` (its trailing block)."""
    r = rel.size
    n_p = int(np.searchsorted(rel, k))
    if r < COLUMNWISE:
        if n_p:
            P[np.ix_(rel, rel[:n_p])] += U[:, :n_p]
        if n_p < r:
            assert T is not None
            t = rel[n_p:] - k
            T[np.ix_(t, t)] += U[n_p:, n_p:]
        return
    if rel[-1] - rel[0] + 1 == r:  # consecutive positions: slices
        a = int(rel[0])
        if n_p:
            P[a : a + r, a : a + n_p] += U[:, :n_p]
        if n_p < r:
            assert T is not None
            a2 = a + n_p - k
            T[a2 : a2 + r - n_p, a2 : a2 + r - n_p] += U[n_p:, n_p:]
        return
    for j in range(n_p):  # a column of an F-ordered array is contiguous: 1-D indexing
        column = P[:, rel[j]]
        column[rel[j:]] += U[j:, j]
    if n_p < r:
        assert T is not None
        t = rel - k
        for j in range(n_p, r):
            column = T[:, t[j]]
            column[t[j:]] += U[j:, j]


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
        """Supernode ``s``'s panel ``[L11; L21]`` (a column-major view)."""
        sym = self.symbolic
        k = int(sym.first[s + 1] - sym.first[s])
        m = k + sym.rows[s].size
        out: np.ndarray = self.values[sym.offsets[s] : sym.offsets[s + 1]].reshape(
            (m, k), order="F"
        )
        return out

    def logdet(self) -> float:
        """``log det A = log|L|^2``."""
        total = 0.0
        for s in range(self.symbolic.first.size - 1):
            P = self.panel(s)
            total += float(np.log(np.diagonal(P[: P.shape[1]])).sum())
        return 2.0 * total

    def solve_lower(self, B: np.ndarray) -> np.ndarray:
        """``L^{-1} B[perm]`` for right-hand sides ``B`` in the original order (a vector
        or ``(n, r)``); the result is in the permuted order."""
        sym = self.symbolic
        Y = np.array(B[sym.perm], dtype=np.float64, order="C")
        Y2 = Y.reshape(sym.n, -1)
        for s in range(sym.first.size - 1):
            f, last = int(sym.first[s]), int(sym.first[s + 1])
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
    values = np.zeros(sym.nnz)
    values[sym.value_dst] = np.asarray(data, dtype=np.float64)[sym.data_map]
    factor = SupernodalFactor(sym, values)
    arena = np.empty(sym.stack_entries)
    trailing: dict[int, np.ndarray] = {}
    top = 0
    for g in range(sym.first.size - 1):
        for a in sym.opens[g]:  # the trailing blocks of the subtrees that start here
            b = sym.rows[a].size
            block = arena[top : top + b * b].reshape((b, b), order="F")
            block.fill(0.0)
            trailing[a] = block
            top += b * b
        k = int(sym.first[g + 1] - sym.first[g])
        b = sym.rows[g].size
        P = factor.panel(g)
        if not b:  # the panel is its diagonal block, contiguous: factored in place
            _, info = lapack.dpotrf(P, lower=1, clean=1, overwrite_a=1)
            _check(info, g)
            continue
        L11, info = lapack.dpotrf(P[:k], lower=1, clean=1)
        _check(info, g)
        P[:k] = L11
        L21 = blas.dtrsm(1.0, L11, P[k:], side=1, lower=1, trans_a=1)
        P[k:] = L21
        T = trailing.pop(g)
        update = blas.dsyrk(-1.0, L21, beta=1.0, c=T, lower=1, trans=0, overwrite_c=1)
        p = int(sym.parent[g])
        if p >= 0:  # into the parent's front at once (children are in increasing order)
            rel = sym.child_rel[p][bisect.bisect_left(sym.children[p], g)]
            _extend_add(factor.panel(p), trailing.get(p), update, rel, _width(sym, p))
        top -= b * b
    return factor


def _width(sym: Symbolic, s: int) -> int:
    """Columns of supernode ``s``."""
    return int(sym.first[s + 1] - sym.first[s])


def _check(info: int, s: int) -> None:
    if info != 0:
        raise np.linalg.LinAlgError(f"not positive definite (supernode {s}, minor {info})")
