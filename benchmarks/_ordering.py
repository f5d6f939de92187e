"""A fill-reducing ordering in scipy alone: minimum degree by rounds of multiple elimination.

Prototype for ``sparse_cholesky_choice.py``.  SciPy exposes no ordering by itself (SuperLU's
MMD is reachable only inside a factorization, ``spilu`` included, which costs as much as the
factorization), and the AMD wheels either take dense input (suitesparse-amd) or come inside
a GPL package (cvxopt.amd).  This is the classical multiple minimum degree idea (Liu 1985)
done with sparse matrix products instead of a quotient graph: each round takes the nodes of
near-minimum degree, keeps an independent set of them (so their eliminations do not
interact), eliminates them all at once by forming the exact elimination graph
``G_RR + B'B`` (``B`` the edges from the eliminated set to the rest) and goes on.  When the
remaining graph is nearly complete its nodes go last, by degree: a dense block's order does
not change its fill.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

__all__ = ["minimum_degree"]


def _pattern(G: sp.spmatrix) -> sp.csr_matrix:
    G = sp.csr_matrix(G, dtype=np.float32, copy=True)
    G.setdiag(0)
    G.eliminate_zeros()
    G.data[:] = 1.0
    return G


def minimum_degree(
    A: sp.spmatrix, slack: float = 0.2, dense_fraction: float = 0.4, max_rounds: int = 10_000
) -> np.ndarray:
    """An elimination order (``perm[k]`` = the node eliminated k-th) for the symmetric ``A``.

    A round eliminates an independent set of the nodes whose degree is at most
    ``(1 + slack)`` times the minimum.  ``slack = 0`` is multiple minimum degree proper.
    """
    G = _pattern(A)
    alive = np.arange(G.shape[0])
    order: list[np.ndarray] = []
    rng = np.random.default_rng(0)
    for _ in range(max_rounds):
        m = alive.size
        if m == 0:
            break
        deg = np.diff(G.indptr)
        if G.nnz >= dense_fraction * m * (m - 1):
            order.append(alive[np.argsort(deg, kind="stable")])
            break
        dmin = int(deg.min())
        cand = np.flatnonzero(deg <= max(dmin * (1.0 + slack), dmin + 1))
        # Independent set: a candidate goes if it ranks below every candidate neighbour.
        rank = np.full(m, np.inf)
        rank[cand] = deg[cand] + rng.random(cand.size) * 0.5
        Gc = G[cand]
        nb_rank = rank[Gc.indices]
        starts = Gc.indptr[:-1]
        has = np.diff(Gc.indptr) > 0
        low = np.full(cand.size, np.inf)
        if Gc.nnz:
            low[has] = np.minimum.reduceat(nb_rank, starts[has])
        elim = cand[rank[cand] < low]
        keep = np.ones(m, dtype=bool)
        keep[elim] = False
        rest = np.flatnonzero(keep)
        B = G[elim][:, rest]
        G = _pattern(G[rest][:, rest] + (B.T @ B))
        order.append(alive[elim[np.argsort(deg[elim], kind="stable")]])
        alive = alive[rest]
    else:
        order.append(alive)
    return np.concatenate(order)
