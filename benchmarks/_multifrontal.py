"""A supernodal multifrontal Cholesky in numpy/scipy: the "write it ourselves" candidate.

Prototype for the measurement in ``sparse_cholesky_choice.py``, not library code.  The
symbolic phase (once per fit) takes a fill-reducing ordering, builds the elimination tree,
postorders it, finds the fundamental supernodes, merges small ones (relaxed supernodes, as
CHOLMOD does) and precomputes every scatter index.  The numeric phase (once per theta) runs
one dense LAPACK ``potrf`` / ``trsm`` / ``syrk`` per supernode on its frontal matrix and
passes the Schur complement (the update matrix) to the parent.

Written from the textbook algorithms (Liu 1990, "The role of elimination trees in sparse
factorization"; Davis 2006, "Direct Methods for Sparse Linear Systems", chapters 4 and 9).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas, lapack

__all__ = ["Symbolic", "analyse", "factorize", "forward_solve", "logdet"]


def etree(lower: sp.csc_matrix) -> np.ndarray:
    """Elimination tree of a symmetric matrix given its lower triangle (CSC)."""
    n = lower.shape[0]
    upper = lower.T.tocsc()  # column k holds the rows i <= k
    indptr, indices = upper.indptr, upper.indices
    parent = np.full(n, -1, dtype=np.int64)
    ancestor = np.full(n, -1, dtype=np.int64)
    par = parent.tolist()
    anc = ancestor.tolist()
    ind = indices.tolist()
    ptr = indptr.tolist()
    for k in range(n):
        for p in range(ptr[k], ptr[k + 1]):
            i = ind[p]
            while i != -1 and i < k:
                nxt = anc[i]
                anc[i] = k
                if nxt == -1:
                    par[i] = k
                i = nxt
    return np.asarray(par, dtype=np.int64)


def postorder(parent: np.ndarray) -> np.ndarray:
    """A postorder of the forest ``parent`` (children in increasing order)."""
    n = parent.size
    roots = np.flatnonzero(parent < 0)
    order = np.argsort(parent, kind="stable")
    # children of v are order[start[v]:start[v+1]] for v >= 0 (parents sorted ascending)
    counts = np.bincount(parent[parent >= 0], minlength=n)
    start = np.concatenate([[0], np.cumsum(counts)]) + roots.size
    kids = order.tolist()
    st = start.tolist()
    post: list[int] = []
    stack: list[tuple[int, int]] = [(int(r), st[int(r)]) for r in roots[::-1]]
    while stack:
        v, nxt = stack[-1]
        if nxt < st[v + 1]:
            stack[-1] = (v, nxt + 1)
            stack.append((kids[nxt], st[kids[nxt]]))
        else:
            stack.pop()
            post.append(v)
    return np.asarray(post, dtype=np.int64)


@dataclass
class Symbolic:
    """What the numeric phase needs, fixed for every theta."""

    n: int
    perm: np.ndarray  # new position k holds original index perm[k]
    data_map: np.ndarray  # Ap-lower data = A.data[data_map]
    first: np.ndarray  # supernode s owns columns first[s]:first[s+1]
    rows: list[np.ndarray]  # below-diagonal row indices of supernode s (sorted)
    parent: np.ndarray  # parent supernode, -1 for a root
    children: list[list[int]]
    child_rel: list[list[np.ndarray]]  # positions of each child's rows in the front
    a_src: list[np.ndarray]  # entries of Ap-lower data assembled into front s ...
    a_dst: list[np.ndarray]  # ... at these flat (column-major) positions
    nnz_l: int  # entries of L including the zeros of relaxed supernodes
    nnz_l_exact: int  # entries of L of the fundamental supernodes (CHOLMOD's count)
    flops: float


def analyse(
    A: sp.csc_matrix,
    perm: np.ndarray,
    relax: tuple[tuple[int, float], ...] = ((4, 1.0), (16, 0.8), (48, 0.1)),
    zrelax_any: float = 0.05,
) -> Symbolic:
    """Symbolic factorization of the symmetric ``A`` (full pattern, CSC) in the order ``perm``."""
    n = A.shape[0]
    perm = np.asarray(perm, dtype=np.int64)
    # Postorder the elimination tree: same fill, contiguous supernodes.
    idx = sp.csc_matrix((np.arange(A.nnz, dtype=np.float64) + 1.0, A.indices, A.indptr), A.shape)
    low0 = sp.tril(idx[perm][:, perm], format="csc")
    post = postorder(etree(low0))
    perm = perm[post]
    low = sp.tril(idx[perm][:, perm], format="csc")
    low.sort_indices()
    data_map = low.data.astype(np.int64) - 1
    parent = etree(low)
    indptr, indices = low.indptr, low.indices
    nchild = np.bincount(parent[parent >= 0], minlength=n)

    # Fundamental supernodes and their row structures, by unions up the tree.
    first: list[int] = []
    rows: list[np.ndarray] = []
    colcount = np.zeros(n, dtype=np.int64)  # below-diagonal entries of each column
    pending: dict[int, list[np.ndarray]] = {}  # parent column -> children's row sets
    j = 0
    while j < n:
        parts = [indices[indptr[j] + 1 : indptr[j + 1]]]  # rows > j (diagonal first)
        parts += pending.pop(j, [])
        struct = np.unique(np.concatenate(parts)) if len(parts) > 1 else parts[0]
        struct = struct[struct > j]
        first.append(j)
        colcount[j] = struct.size
        # Extend while the next column is the only child's parent with the same structure.
        while j + 1 < n and parent[j] == j + 1 and nchild[j + 1] == 1 and j + 1 not in pending:
            a_rows = indices[indptr[j + 1] + 1 : indptr[j + 1 + 1]]
            tail = struct[1:]
            if a_rows.size and not np.all(np.isin(a_rows, tail, assume_unique=True)):
                break
            j += 1
            struct = tail
            colcount[j] = struct.size
        rows.append(struct)
        if struct.size:
            pending.setdefault(int(struct[0]), []).append(struct)
        j += 1
    nsup = len(first)
    first_arr = np.asarray(first + [n], dtype=np.int64)
    col_sn = np.repeat(np.arange(nsup), np.diff(first_arr))
    sn_parent = np.array([col_sn[r[0]] if r.size else -1 for r in rows], dtype=np.int64)
    nnz_exact = int(n + colcount.sum())

    # Relaxed supernodes: merge a supernode into its parent when its columns come just
    # before the parent's and the merged panel gains few explicit zeros.
    ncol = np.diff(first_arr).tolist()
    true_nnz = [int(ncol[s] + colcount[first_arr[s] : first_arr[s + 1]].sum()) for s in range(nsup)]
    # A finished group is [start, top] of consecutive supernodes; key: its top supernode.
    done: dict[int, tuple[int, int, int]] = {}  # top -> (start, ncols, true entries)
    for s in range(nsup):
        start, cols, true = s, ncol[s], true_nnz[s]
        below = rows[s].size
        while start - 1 in done and sn_parent[start - 1] == s:
            g_start, g_cols, g_true = done[start - 1]
            tot = g_cols + cols
            panel = tot * (tot + 1) // 2 + tot * below
            frac = (panel - g_true - true) / panel
            if not (frac <= zrelax_any or any(tot <= lim and frac <= z for lim, z in relax)):
                break
            del done[start - 1]
            start, cols, true = g_start, tot, g_true + true
        done[s] = (start, cols, true)
    tops = sorted(done)
    firsts = np.asarray([first_arr[done[t][0]] for t in tops] + [n], dtype=np.int64)
    grows = [rows[t] for t in tops]
    ng = len(tops)
    col_g = np.repeat(np.arange(ng), np.diff(firsts))
    gparent = np.array([col_g[r[0]] if r.size else -1 for r in grows], dtype=np.int64)

    children: list[list[int]] = [[] for _ in range(ng)]
    for g in range(ng):
        if gparent[g] >= 0:
            children[gparent[g]].append(g)
    fronts = [np.concatenate([np.arange(firsts[g], firsts[g + 1]), grows[g]]) for g in range(ng)]
    child_rel = [[np.searchsorted(fronts[g], grows[c]) for c in children[g]] for g in range(ng)]
    # Assembly maps: the lower entries of columns first..last go to (local row, local col).
    a_src, a_dst = [], []
    flops = 0.0
    nnz_l = 0
    for g in range(ng):
        f, l_ = int(firsts[g]), int(firsts[g + 1])
        lo, hi = indptr[f], indptr[l_]
        r = indices[lo:hi]
        c = np.repeat(np.arange(l_ - f), np.diff(indptr[f : l_ + 1]))
        m = fronts[g].size
        a_src.append(np.arange(lo, hi))
        a_dst.append(np.searchsorted(fronts[g], r) + c * m)
        k, b = l_ - f, grows[g].size
        nnz_l += k * (k + 1) // 2 + k * b
        flops += k**3 / 3 + k * k * b + k * b * b
    return Symbolic(
        n=n,
        perm=perm,
        data_map=data_map,
        first=firsts,
        rows=grows,
        parent=gparent,
        children=children,
        child_rel=child_rel,
        a_src=a_src,
        a_dst=a_dst,
        nnz_l=nnz_l,
        nnz_l_exact=nnz_exact,
        flops=flops,
    )


#: Children with at least this many rows are added column by column (a gather per column
#: is ~10x faster than one 2-D fancy index on a large update); smaller ones in one go.
COLUMNWISE = 64


def extend_add(P: np.ndarray, T: np.ndarray | None, U: np.ndarray, rel: np.ndarray, k: int) -> None:
    """Add a child's update ``U`` (positions ``rel`` in the front) to the panel and the tail.

    The front is kept as two arrays: ``P`` (its first ``k`` columns: the supernode's panel,
    all ``m`` rows) and ``T`` (the trailing ``b x b`` block that becomes this supernode's own
    update matrix), so that LAPACK works on both in place.  Only the lower triangle of
    ``U`` is meaningful, and only the lower triangles of ``P`` and ``T`` are written.
    """
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
    if rel[-1] - rel[0] + 1 == r:  # one block of consecutive positions: slices
        a = int(rel[0])
        if n_p:
            P[a : a + r, a : a + n_p] += U[:, :n_p]
        if n_p < r:
            assert T is not None
            a2 = a + n_p - k
            T[a2 : a2 + r - n_p, a2 : a2 + r - n_p] += U[n_p:, n_p:]
        return
    for j in range(n_p):
        P[rel[j:], rel[j]] += U[j:, j]
    if n_p < r:
        assert T is not None
        t = rel - k
        for j in range(n_p, r):
            T[t[j:], t[j]] += U[j:, j]


def factorize(sym: Symbolic, data: np.ndarray) -> list[np.ndarray]:
    """The supernode panels ``[L11; L21]`` (column-major) of A's Cholesky factor.

    ``data`` is ``A.data`` of a matrix with the pattern given to :func:`analyse`.
    """
    low = data[sym.data_map]
    panels: list[np.ndarray] = []
    updates: dict[int, np.ndarray] = {}
    first = sym.first
    for g in range(first.size - 1):
        k = int(first[g + 1] - first[g])
        b = sym.rows[g].size
        m = k + b
        P = np.zeros((m, k), order="F")
        P.ravel(order="F")[sym.a_dst[g]] = low[sym.a_src[g]]
        T = np.zeros((b, b), order="F") if b else None
        for ci, rel in enumerate(sym.child_rel[g]):
            c = sym.children[g][ci]
            extend_add(P, T, updates.pop(c), rel, k)
        if b == 0:  # P is k x k and contiguous: factor in place
            L11, info = lapack.dpotrf(P, lower=1, clean=0, overwrite_a=1)
            P = L11
        else:
            L11, info = lapack.dpotrf(P[:k], lower=1, clean=0, overwrite_a=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"not positive definite (supernode {g}, info {info})")
        if b:
            P[:k] = L11
            L21 = blas.dtrsm(1.0, L11, P[k:], side=1, lower=1, trans_a=1)
            P[k:] = L21
            updates[g] = blas.dsyrk(-1.0, L21, beta=1.0, c=T, lower=1, trans=0, overwrite_c=1)
        panels.append(P)
    return panels


def logdet(sym: Symbolic, panels: list[np.ndarray]) -> float:
    """log|L|^2 = log det A."""
    return 2.0 * float(
        sum(np.log(np.diagonal(p[: p.shape[1]])).sum() for p in panels)  # diag of L11
    )


def forward_solve(sym: Symbolic, panels: list[np.ndarray], B: np.ndarray) -> np.ndarray:
    """``L^{-1} P B`` for the original-order right-hand sides ``B`` (n x r)."""
    Y = np.array(B[sym.perm], dtype=np.float64, order="C")
    first = sym.first
    for g, panel in enumerate(panels):
        f, l_ = int(first[g]), int(first[g + 1])
        k = l_ - f
        y = blas.dtrsm(1.0, panel[:k], Y[f:l_], side=0, lower=1) if k > 1 else Y[f:l_] / panel[0, 0]
        Y[f:l_] = y
        if panel.shape[0] > k:
            Y[sym.rows[g]] -= panel[k:] @ y
    return Y
