"""The analytic gradient of the profiled criterion, for any number of grouping factors.

Write ``A`` for Z'WZ, ``B`` for Z'WX, ``M = Lambda'A Lambda + I`` (so that L L' = M),
``u`` for the spherical modes, ``b = Lambda u``, ``c = Z'W(y - X beta) - A b`` for the
score of the modes and ``V = (R_X'R_X)^{-1}``. A theta element is the entry (r, c) of one
block's template, so ``d Lambda`` is ``E_rc`` in every level of that block, and each
derivative is the entry ``[c, r]`` of a ``k x k`` sum over the block's levels:

* ``d log|L|^2 = 2 sum_l (M^{-1} Lambda'A)_ll``;
* ``d r^2 = -2 sum_l c_l u_l'`` (entry ``[r, c]``; beta and u are optimal, so only the
  explicit dependence on Lambda counts);
* ``d log|R_X|^2 = -2 sum_l (Q V (B - A Lambda Q)')_ll`` with ``Q = M^{-1} Lambda'B``.

ML: the derivative of the criterion is ``d log|L|^2 + n d r^2 / r^2``; REML adds
``d log|R_X|^2`` and uses ``n - p``.

Only diagonal blocks of ``M^{-1} Lambda'A`` are needed. With the first factor's
per-level blocks ``M00``, the tail's Schur complement ``S`` (``L_TT L_TT'``) and its
unscaled form ``E = A_TT - A_T0 W A_0T`` (``W = T0 M00^{-1} T0'`` per level), block
elimination gives, with ``H = S^{-1}`` and ``P_l = A_T0,l' Lambda_T H Lambda_T' A_T0,l``:

* first factor: ``(M^{-1} Lambda'A)_ll = M00_l^{-1} T0' (A00_l - P_l (I - W_l A00_l))``;
* tail: the diagonal blocks of ``H Lambda_T' E``.

The first factor's part sums ``M00_l^{-1} T0' P_l (W_l A00_l - I)`` over the levels,
which is ``<Lambda_T H Lambda_T', A_T0 blockdiag(D) A_0T>`` for the right per-level blocks D:
one weighted Gram product of the fixed ``A_T0``, as the factorization forms its own. The
rest is dense work on the tail, of the order of its Cholesky factorization.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from mixedmodels.core.levelpairs import scaled_lower_inverse
from mixedmodels.core.pairinverse import PairPatternInverse
from mixedmodels.core.solution import Solution
from mixedmodels.core.sparsetail import SparseInverse
from mixedmodels.core.tailstorage import DenseInverse
from mixedmodels.core.workspace import Factorization, Workspace
from mixedmodels.linalg.smallblocks import (
    multiply_blocks,
    to_component_major,
)

__all__ = ["Derivatives", "criterion_derivatives", "objective_gradient", "score"]


def _tail_rows(ws: Workspace) -> list[tuple[slice, int, int]]:
    """Row slice, levels and k of every tail block."""
    return [
        (slice(int(start), int(start) + m * k), m, k)
        for (m, k), start in zip(ws.tail_shapes, ws._tail_offsets[:-1], strict=True)
    ]


def _lambda_t(ws: Workspace, templates: tuple[np.ndarray, ...], M: np.ndarray) -> np.ndarray:
    """``Lambda_T M`` (the workspace's own method applies ``Lambda_T'``)."""
    return ws._lambda_t_left(tuple(T.T for T in templates), M)


@dataclass(frozen=True)
class Derivatives:
    """The derivatives over theta of the pieces of the profiled criterion.

    Attributes
    ----------
    logdet_z : numpy.ndarray
        Of ``log|L_Z|^2``.
    r2 : numpy.ndarray
        Of the penalized residual sum of squares ``r^2`` (at fixed beta and u).
    logdet_x : numpy.ndarray or None
        Of ``log|R_X|^2`` (None unless asked for).
    """

    logdet_z: np.ndarray
    r2: np.ndarray
    logdet_x: np.ndarray | None


def objective_gradient(
    ws: Workspace,
    fac: Factorization,
    sol: Solution,
    position: np.ndarray,
    reml: bool,
) -> np.ndarray:
    """Gradient of :meth:`Workspace.objective` over theta.

    Parameters
    ----------
    fac : Factorization
        From ``ws.factorize(templates, keep_schur=True)`` when the model has more than
        one grouping factor.
    sol : Solution
        ``solve(ws, fac)``, in the workspace's own parametrization.
    position : numpy.ndarray
        ``(n_theta, 3)``: block, row and column of each theta element.
    """
    parts = criterion_derivatives(ws, fac, sol, position, reml)
    dof = ws.n - ws.p if reml else ws.n
    grad = parts.logdet_z + dof * parts.r2 / sol.rss_penalized
    if parts.logdet_x is not None:
        grad = grad + parts.logdet_x
    return grad


def criterion_derivatives(
    ws: Workspace,
    fac: Factorization,
    sol: Solution,
    position: np.ndarray,
    with_logdet_x: bool,
) -> Derivatives:
    """The derivatives of ``log|L_Z|^2``, ``r^2`` and (if asked) ``log|R_X|^2`` over
    theta, with the arguments of :func:`objective_gradient`."""
    p = ws.p
    T0 = fac.templates[0]
    tail = fac.tail is not None
    if tail and fac.schur is None:
        raise ValueError("the gradient of a model with several factors needs keep_schur=True")
    A00 = ws._zz0  # (k0, k0, m0)
    k0, _, m0 = A00.shape
    Bx0 = ws._bz0[:, :p, :]  # (k0, p, m0)
    u0 = sol.u0.T
    Linv = fac.L0_inverse
    Minv = multiply_blocks(Linv, Linv, transpose_a=True)
    MinvT0t = np.einsum("abm,cb->acm", Minv, T0)  # M00^{-1} T0'

    c0, cT = score(ws, sol)
    # the REML terms solve with the tail's factor, which a sparse tail's inverse takes the
    # place of: they come first
    reml_terms = _reml_terms(ws, fac, sol, MinvT0t, Bx0) if with_logdet_x and p else None
    tail_sums: list[np.ndarray] = []
    tail_r2: list[np.ndarray] = []
    coupled = np.zeros((k0, k0))
    if tail:
        assert fac.tail is not None and fac.LBT is not None and fac.schur is not None
        assert cT is not None
        tail_templates = fac.templates[1:]
        inverse = fac.tail.inverse()
        scale = ws.tail_scale(tail_templates)
        W = multiply_blocks(fac.G, fac.G, transpose_b=True)
        WA = multiply_blocks(W, A00)
        for a in range(k0):
            WA[a, a] -= 1.0
        # sum_l M00_l^{-1} T0' P_l (W_l A00_l - I)
        coupled = _coupled_sum(ws, fac, inverse, MinvT0t, WA)
        # tail: diagonal blocks of H Lambda_T' E = sum over g of (H Lambda_T')[a, g] E[b, g]
        E = fac.schur
        uT = sol.u_tail
        traces = _row_traces(inverse, E, scale) if scale is not None else None
        H = inverse.dense() if scale is None else None
        for rows, m, k in _tail_rows(ws):
            if traces is not None:
                tail_sums.append(np.array([[traces[rows].sum()]]))
            else:
                assert H is not None
                HL = _lambda_t(ws, tail_templates, np.ascontiguousarray(H[:, rows])).T
                tail_sums.append(
                    np.einsum("lag,lbg->ab", HL.reshape(m, k, -1), E[rows].reshape(m, k, -1))
                )
            tail_r2.append(cT[rows].reshape(m, k).T @ uT[rows].reshape(m, k))
    N0 = multiply_blocks(MinvT0t, A00).sum(axis=-1) + coupled
    sums = [N0, *tail_sums]
    r2_terms = [c0 @ u0.T, *tail_r2]

    blk, rows_i, cols_i = position[:, 0], position[:, 1], position[:, 2]
    d_logdet = 2.0 * _read(sums, blk, cols_i, rows_i)
    d_r2 = -2.0 * _read(r2_terms, blk, rows_i, cols_i)
    d_logdet_x = None
    if with_logdet_x:
        d_logdet_x = np.zeros_like(d_logdet)
        if reml_terms is not None:
            d_logdet_x = -2.0 * _read(reml_terms, blk, cols_i, rows_i)
    return Derivatives(d_logdet, d_r2, d_logdet_x)


#: Smallest tail scale at which :func:`_row_traces` reads the diagonal of ``S^{-1}``:
#: ``1 - S^{-1}_aa`` is about ``scale^2 E_aa``, so its rounding grows as the scale falls
#: (below 1e-3 it would pass 1e-10 of the term).
DIAGONAL_MIN_SCALE = 1e-3


def _row_traces(
    inverse: DenseInverse | SparseInverse | PairPatternInverse, E: np.ndarray, scale: np.ndarray
) -> np.ndarray:
    """``sum_g S^{-1}[a, g] E[a, g] scale[g]`` for every tail row ``a``, scalar tail terms.

    With ``S = Lambda E Lambda + I`` (``Lambda = diag(scale)``), ``S^{-1} Lambda E =
    (I - S^{-1}) Lambda^{-1}``, so the sum is ``(1 - S^{-1}_aa) / scale_a``: the diagonal
    of the inverse alone, where the storage kind's own sum reads it at every position of
    E's pattern (764k positions for 2,000 long-tailed items, 21 ms a gradient)."""
    if float(np.min(scale, initial=np.inf)) < DIAGONAL_MIN_SCALE:
        return inverse.row_traces(E, scale)
    at = _diagonal_index(scale.size)  # the same array each time: the kinds cache by it
    out: np.ndarray = (1.0 - inverse.entries(at, at)) / scale
    return out


@functools.lru_cache(maxsize=8)
def _diagonal_index(size: int) -> np.ndarray:
    """``arange(size)``, read-only, one array per size."""
    out = np.arange(size)
    out.setflags(write=False)
    return out


def _read(
    blocks: list[np.ndarray], block: np.ndarray, first: np.ndarray, second: np.ndarray
) -> np.ndarray:
    """``blocks[block[t]][first[t], second[t]]`` for every theta element t."""
    if len(blocks) == 1:
        one: np.ndarray = blocks[0][first, second].astype(np.float64)
        return one
    return np.array(
        [blocks[b][i, j] for b, i, j in zip(block, first, second, strict=True)], dtype=np.float64
    )


def _coupled_sum(
    ws: Workspace,
    fac: Factorization,
    inverse: DenseInverse | SparseInverse | PairPatternInverse,
    X: np.ndarray,
    Y: np.ndarray,
) -> np.ndarray:
    """``sum_l X_l P_l Y_l`` with ``P_l = A_T0,l' Ht A_T0,l`` and ``Ht = Lambda_T S^{-1}
    Lambda_T'``, ``(k0, k0)``.

    Entry ``[c, r]`` is ``<Ht, A_T0 blockdiag(D) A_0T>`` with ``D_l[a, b] = X_l[c, a]
    Y_l[b, r]``: a weighted Gram product of the fixed sparse ``A_T0``, formed as the
    factorization forms its own (the Gram kernel for a scalar first factor, a sparse
    product otherwise), read against the entries of ``S^{-1}`` on its pattern, which the
    tail's storage kind gives (all of them for the dense kind, the selected inverse for the
    sparse one). When the dense kind keeps the pairs of tail rows (a scalar first factor),
    the sum is over the levels' quadratic forms ``P_l`` themselves."""
    k0 = X.shape[0]
    q_t = ws.tail_size
    scale = ws.tail_scale(fac.templates[1:])
    if isinstance(inverse, PairPatternInverse):  # its map holds Z's own values
        assert scale is not None and k0 == 1 and ws._gram_values is None
        return np.array([[float(np.dot(X[0, 0] * Y[0, 0], inverse.quadratic_forms(scale)))]])
    # a dense S^{-1}: scaled once (q_T^2) and read by flat index; the sparse kind's
    # entries are looked up on its pattern and scaled as read
    Ht = (
        scaled_lower_inverse(ws, fac, inverse).reshape(-1)
        if isinstance(inverse, DenseInverse)
        else None
    )
    # the Gram kernel gives the same position arrays each time, which the lookups keep;
    # a sparse product's are new each time, so nothing is kept of them
    kept = k0 == 1 and ws._gram is not None
    out = np.zeros((k0, k0))
    for c in range(k0):
        for r in range(k0):
            D = np.einsum("am,bm->abm", X[c], Y[:, r])  # D_l[a, b] = X_l[c, a] Y_l[b, r]
            if kept:
                assert ws._gram is not None
                pieces = ws._gram.entries(D[0, 0], ws._gram_values)
            else:
                product = (ws._zt0 @ ws.blockdiag(D) @ ws._zt0_t).tocoo()
                pieces = [(product.row.astype(np.int64) * q_t + product.col, product.data)]
            total = 0.0
            for flat, values in pieces:
                i, j, lower_flat = _lower_index(ws, flat, q_t, kept)
                if Ht is not None:
                    h = Ht[lower_flat]
                else:
                    assert isinstance(inverse, SparseInverse) and scale is not None
                    h = inverse.entries(i, j, remember=kept) * scale[i] * scale[j]
                total += float(np.dot(values, h))
            out[c, r] = total
    return out


def _lower_index(
    ws: Workspace, flat: np.ndarray, q_t: int, remember: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row, column (row >= column: S^{-1} is symmetric) and flat lower-triangle position
    of flat positions in a ``q_t x q_t`` array, kept while the same position array comes
    back (the Gram kernel returns the same one while its pattern holds, and the sparse
    kind caches its lookups by these arrays)."""
    if not remember:
        i, j = np.divmod(flat, q_t)
        rows, cols = np.maximum(i, j), np.minimum(i, j)
        return rows, cols, rows * q_t + cols
    cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = (
        ws.__dict__.setdefault("_lower_index", {})
    )
    hit = cache.get(id(flat))
    if hit is not None and hit[0] is flat:
        return hit[1], hit[2], hit[3]
    i, j = np.divmod(flat, q_t)
    rows, cols = np.maximum(i, j), np.minimum(i, j)
    if len(cache) > 8:  # position arrays of sparse products are new each time
        cache.clear()
    cache[id(flat)] = (flat, rows, cols, rows * q_t + cols)
    return rows, cols, rows * q_t + cols


def score(ws: Workspace, sol: Solution) -> tuple[np.ndarray, np.ndarray | None]:
    """The score of the modes, ``c = Z'W(y - X beta) - A b``: the first factor's part
    ``(k0, m0)`` and the tail's (None without one). With ``V = W^{-1} + Z Lambda Lambda'
    Z'`` and P the REML projection, ``c = Z'P y``."""
    p = ws.p
    c0 = (
        ws._bz0[:, p, :]
        - np.einsum("p,apm->am", sol.beta, ws._bz0[:, :p, :])
        - _blocks_times(ws._zz0, sol.b0.T)
    )
    if ws.products.zt0 is None:
        return c0, None
    A = ws.products
    assert A.bzt is not None
    k0, m0 = c0.shape
    c0 = c0 - (ws._zt0_t @ sol.b_tail).reshape(m0, k0).T
    cT = (
        A.bzt[:, p]
        - A.bzt[:, :p] @ sol.beta
        - ws._zt0 @ sol.b0.ravel()
        - ws.ztt_operator() @ sol.b_tail
    )
    return c0, cT


def _blocks_times(blocks: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``blocks_l v_l`` for a ``(k, k, m)`` stack and a ``(k, m)`` array."""
    out: np.ndarray = np.einsum("abm,bm->am", blocks, v)
    return out


def _reml_terms(
    ws: Workspace,
    fac: Factorization,
    sol: Solution,
    MinvT0t: np.ndarray,
    Bx0: np.ndarray,
) -> list[np.ndarray]:
    """``sum_l (Q V (B - A Lambda Q)')_ll`` for every block."""
    p = ws.p
    T0 = fac.templates[0]
    A00 = ws._zz0
    k0, _, m0 = A00.shape
    V = sol.var_beta_unscaled
    if fac.tail is None:
        Q0 = multiply_blocks(MinvT0t, Bx0)  # (k0, p, m0)
        LQ0 = np.einsum("ab,bpm->apm", T0, Q0)
        R0 = Bx0 - multiply_blocks(A00, LQ0)
        return [np.einsum("apm,pq,bqm->ab", Q0, V, R0)]
    assert fac.LBT is not None
    A = ws.products
    assert A.bzt is not None and A.ztt is not None
    tail_templates = fac.templates[1:]
    assert fac.tail is not None
    QT = fac.tail.solve_upper(np.ascontiguousarray(fac.LBT[:p].T))
    LQT = _lambda_t(ws, tail_templates, QT)  # (q_T, p)
    coupling = to_component_major((ws._zt0_t @ LQT).reshape(m0, k0, p))
    Q0 = multiply_blocks(MinvT0t, Bx0 - coupling)
    LQ0 = np.einsum("ab,bpm->apm", T0, Q0)  # (k0, p, m0)
    R0 = Bx0 - multiply_blocks(A00, LQ0) - coupling
    LQ0_rows = np.ascontiguousarray(LQ0.transpose(2, 0, 1)).reshape(m0 * k0, p)
    RT = A.bzt[:, :p] - ws._zt0 @ LQ0_rows - ws.ztt_operator() @ LQT
    terms = [np.einsum("apm,pq,bqm->ab", Q0, V, R0)]
    for rows, m, k in _tail_rows(ws):
        Qr = QT[rows].reshape(m, k, p)
        terms.append(np.einsum("lap,pq,lbq->ab", Qr, V, RT[rows].reshape(m, k, p)))
    return terms
