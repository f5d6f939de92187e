"""CrossProducts: the blocks of A = [Z X y]' W [Z X y], built in one pass over the rows.

The first grouping factor (the one with most levels) keeps its diagonal block as an
``(m, k, k)`` stack; the others ("the tail") are stored densely, with a sparse block
between them and the first factor. The blocks are a sum over row chunks, so data that
arrives in pieces (files, Dask partitions) reuses the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

__all__ = [
    "ZTerm",
    "CrossProducts",
    "chunk_crossproducts",
    "crossproducts",
    "sparse_tail_crossproducts",
    "tail_matrix",
    "with_response",
]

#: Rows per chunk when a frame is reduced in pieces (bounds temporary memory).
CHUNK_ROWS = 1_000_000
#: Z_T'WZ_T is kept sparse (CSR) when it would have more entries than this dense.
DENSE_TAIL_ENTRIES = 25_000_000


@dataclass(frozen=True)
class ZTerm:
    """The columns of Z for one grouping factor: level codes and an ``(n, k)`` matrix."""

    codes: np.ndarray
    matrix: np.ndarray
    n_levels: int
    starts: np.ndarray | None = None
    """For rows sorted by level (every level present): each level's first row."""

    def level_sums(self, values: np.ndarray) -> np.ndarray:
        """Sum of ``values`` over the rows of each level."""
        if self.starts is not None and values.size:
            return np.add.reduceat(values, self.starts)
        return np.bincount(self.codes, values, minlength=self.n_levels)

    @property
    def k(self) -> int:
        """Coefficients per level."""
        return int(self.matrix.shape[1])


@dataclass(frozen=True)
class CrossProducts:
    """The blocks of A.

    Attributes
    ----------
    zz0 : numpy.ndarray
        ``(m0, k0, k0)``: Z0'WZ0, block-diagonal, one block per level of the first factor.
    bz0 : numpy.ndarray
        ``(m0, k0, p + 1)``: Z0'W[X y].
    zt0 : scipy.sparse.csr_matrix or None
        ``(qT, m0 k0)``: Z_T'WZ0.
    ztt : numpy.ndarray or scipy.sparse.csr_matrix or None
        ``(qT, qT)``: Z_T'WZ_T, dense unless it has more than ``DENSE_TAIL_ENTRIES``
        entries.
    bzt : numpy.ndarray or None
        ``(qT, p + 1)``: Z_T'W[X y].
    bb : numpy.ndarray
        ``(p + 1, p + 1)``: [X y]'W[X y].
    n : int
        Number of rows.
    sum_log_weights : float
        Sum of the logarithms of the prior weights (0 for unit weights).
    """

    zz0: np.ndarray
    bz0: np.ndarray
    zt0: sp.csr_matrix | None
    ztt: np.ndarray | sp.csr_matrix | None
    bzt: np.ndarray | None
    bb: np.ndarray
    n: int
    sum_log_weights: float

    def __add__(self, other: CrossProducts) -> CrossProducts:
        def add(a: object, b: object) -> object:
            return None if a is None else a + b  # type: ignore[operator]

        return CrossProducts(
            self.zz0 + other.zz0,
            self.bz0 + other.bz0,
            add(self.zt0, other.zt0),  # type: ignore[arg-type]
            add(self.ztt, other.ztt),  # type: ignore[arg-type]
            add(self.bzt, other.bzt),  # type: ignore[arg-type]
            self.bb + other.bb,
            self.n + other.n,
            self.sum_log_weights + other.sum_log_weights,
        )


def _tail_index(terms: Sequence[ZTerm]) -> tuple[list[np.ndarray], int]:
    """Global column index in the tail of every row for every (term, column)."""
    idx: list[np.ndarray] = []
    offset = 0
    for term in terms:
        base = term.codes.astype(np.int64) * term.k + offset
        idx.extend(base + a for a in range(term.k))
        offset += term.n_levels * term.k
    return idx, offset


def chunk_crossproducts(
    terms: Sequence[ZTerm], B: np.ndarray, weights: np.ndarray | None
) -> CrossProducts:
    """The blocks of A for one chunk of rows.

    Parameters
    ----------
    terms : sequence of ZTerm
        The grouping factors, first the one with most levels.
    B : numpy.ndarray
        ``(n, p + 1)``: the fixed-effects matrix with the response (less any offset) last.
    weights : numpy.ndarray or None
        Prior weights.
    """
    n = B.shape[0]
    first, tail = terms[0], terms[1:]
    m0, k0 = first.n_levels, first.k
    wB = B if weights is None else B * weights[:, None]
    wZ0 = first.matrix if weights is None else first.matrix * weights[:, None]
    zz0 = np.empty((m0, k0, k0))
    for a in range(k0):
        for b in range(a + 1):
            col = first.level_sums(wZ0[:, a] * first.matrix[:, b])
            zz0[:, a, b] = col
            zz0[:, b, a] = col
    pb = B.shape[1]
    bz0 = np.empty((m0, k0, pb))
    for a in range(k0):
        for c in range(pb):
            bz0[:, a, c] = first.level_sums(wZ0[:, a] * B[:, c])
    bb = B.T @ wB
    zt0: sp.csr_matrix | None = None
    ztt: np.ndarray | sp.csr_matrix | None = None
    bzt: np.ndarray | None = None
    if tail:
        index, q_t = _tail_index(tail)
        columns = [t.matrix[:, a] for t in tail for a in range(t.k)]
        wcols = [c if weights is None else c * weights for c in columns]
        bzt = np.empty((q_t, pb))
        for c in range(pb):
            total = np.zeros(q_t)
            for i, wc in zip(index, wcols, strict=True):
                total += np.bincount(i, wc * B[:, c], minlength=q_t)
            bzt[:, c] = total
        z0_index = [first.codes.astype(np.int64) * k0 + a for a in range(k0)]
        rows = np.concatenate([i for i in index for _ in range(k0)])
        cols = np.concatenate([z0_index[a] for _ in index for a in range(k0)])
        vals = np.concatenate([wc * first.matrix[:, a] for wc in wcols for a in range(k0)])
        zt0 = sp.csr_matrix((vals, (rows, cols)), shape=(q_t, m0 * k0))
        zt0.sum_duplicates()
        if len(columns) == 1:  # one scalar term after the first: Z_T'WZ_T is diagonal
            diagonal = np.bincount(index[0], wcols[0] * columns[0], minlength=q_t)
            ztt = sp.csr_matrix(sp.diags(diagonal))
        elif q_t * q_t > DENSE_TAIL_ENTRIES:
            r = np.concatenate([i for i in index for _ in index])
            s = np.concatenate([j for _ in index for j in index])
            v = np.concatenate([wc * col for wc in wcols for col in columns])
            ztt = sp.csr_matrix((v, (r, s)), shape=(q_t, q_t))
            ztt.sum_duplicates()
        elif q_t * q_t <= 4 * n * len(index) ** 2 + 1_000_000:
            flat = np.zeros(q_t * q_t)
            for i, wc in zip(index, wcols, strict=True):
                for j, col in zip(index, columns, strict=True):
                    flat += np.bincount(i * q_t + j, wc * col, minlength=q_t * q_t)
            ztt = np.reshape(flat, (q_t, q_t))
        else:
            r = np.concatenate([i for i in index for _ in index])
            s = np.concatenate([j for _ in index for j in index])
            v = np.concatenate([wc * col for wc in wcols for col in columns])
            ztt = sp.coo_matrix((v, (r, s)), shape=(q_t, q_t)).toarray()
    slw = 0.0 if weights is None else float(np.sum(np.log(weights[weights > 0])))
    return CrossProducts(zz0, bz0, zt0, ztt, bzt, bb, n, slw)


def crossproducts(
    terms: Sequence[ZTerm],
    B: np.ndarray,
    weights: np.ndarray | None,
    chunk_rows: int = CHUNK_ROWS,
) -> CrossProducts:
    """The blocks of A for all rows, as a sum over chunks of ``chunk_rows`` rows."""
    n = B.shape[0]
    total: CrossProducts | None = None
    for start in range(0, max(n, 1), chunk_rows):
        stop = min(start + chunk_rows, n)
        whole = start == 0 and stop == n
        piece = [
            ZTerm(
                t.codes[start:stop], t.matrix[start:stop], t.n_levels, t.starts if whole else None
            )
            for t in terms
        ]
        w = None if weights is None else weights[start:stop]
        part = chunk_crossproducts(piece, B[start:stop], w)
        total = part if total is None else total + part
    assert total is not None
    return total


def tail_matrix(terms: Sequence[ZTerm]) -> sp.csr_matrix:
    """The tail's columns of Z as a sparse ``(n, q_T)`` matrix, in the order of the tail's
    blocks of A (level by level, a level's coefficients together)."""
    index, q_t = _tail_index(terms)
    n = terms[0].codes.size if terms else 0
    rows = np.concatenate([np.arange(n)] * len(index)) if index else np.zeros(0, np.int64)
    cols = np.concatenate(index) if index else np.zeros(0, np.int64)
    vals = (
        np.concatenate([t.matrix[:, a] for t in terms for a in range(t.k)])
        if index
        else np.zeros(0)
    )
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, q_t))


def sparse_tail_crossproducts(first: ZTerm, tail: sp.csr_matrix, B: np.ndarray) -> CrossProducts:
    """The blocks of A when the tail's columns of Z are any sparse matrix.

    A row of ``tail`` may have entries at several levels of one factor, as a crossed
    factor's rows have once a residual correlation structure whitens them (each row then
    mixes its level with those of the rows before it); the first factor's rows still
    belong to one level each. Z_T'Z_T is dense unless it has more than
    ``DENSE_TAIL_ENTRIES`` entries."""
    base = chunk_crossproducts([first], B, None)
    n, m0, k0 = B.shape[0], first.n_levels, first.k
    cols0 = (first.codes.astype(np.int64)[:, None] * k0 + np.arange(k0)).ravel()
    Z0 = sp.csr_matrix(
        (first.matrix.ravel(), (np.repeat(np.arange(n), k0), cols0)), shape=(n, m0 * k0)
    )
    tail_t = tail.T.tocsr()
    zt0 = sp.csr_matrix(tail_t @ Z0)
    zt0.sum_duplicates()
    q_t = tail.shape[1]
    gram = sp.csr_matrix(tail_t @ tail)
    ztt: np.ndarray | sp.csr_matrix = gram if q_t * q_t > DENSE_TAIL_ENTRIES else gram.toarray()
    bzt = np.asarray(tail_t @ B)
    return CrossProducts(base.zz0, base.bz0, zt0, ztt, bzt, base.bb, n, 0.0)


def _response_column(
    terms: Sequence[ZTerm], B: np.ndarray, weights: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The last column of ``[Z X y]'W[Z X y]`` for one chunk: ``Z0'Wy`` as ``(m0, k0)``,
    ``Z_T'Wy`` and ``[X y]'Wy``, each sum formed as :func:`chunk_crossproducts` forms it."""
    first, tail = terms[0], terms[1:]
    y = B[:, -1]
    wZ0 = first.matrix if weights is None else first.matrix * weights[:, None]
    bz0 = np.empty((first.n_levels, first.k))
    for a in range(first.k):
        bz0[:, a] = first.level_sums(wZ0[:, a] * y)
    wy = y if weights is None else y * weights
    bb = B.T @ wy
    bzt: np.ndarray | None = None
    if tail:
        index, q_t = _tail_index(tail)
        columns = [t.matrix[:, a] for t in tail for a in range(t.k)]
        wcols = [c if weights is None else c * weights for c in columns]
        bzt = np.zeros(q_t)
        for i, wc in zip(index, wcols, strict=True):
            bzt += np.bincount(i, wc * y, minlength=q_t)
    return bz0, bzt, bb


def with_response(
    products: CrossProducts,
    terms: Sequence[ZTerm],
    B: np.ndarray,
    weights: np.ndarray | None,
    chunk_rows: int = CHUNK_ROWS,
) -> CrossProducts:
    """The blocks of a design with a new response: only ``Z'Wy``, ``X'Wy`` and ``y'Wy``
    are formed (``B`` is ``[X y]`` with the new response last); ``Z'WZ``, ``Z'WX`` and
    ``X'WX`` are those of ``products``."""
    n = B.shape[0]
    bz0 = np.zeros(products.bz0.shape[:2])
    bzt = None if products.bzt is None else np.zeros(products.bzt.shape[0])
    bb_col = np.zeros(B.shape[1])
    for start in range(0, max(n, 1), chunk_rows):
        stop = min(start + chunk_rows, n)
        whole = start == 0 and stop == n
        piece = [
            ZTerm(
                t.codes[start:stop], t.matrix[start:stop], t.n_levels, t.starts if whole else None
            )
            for t in terms
        ]
        w = None if weights is None else weights[start:stop]
        part0, part_t, part_b = _response_column(piece, B[start:stop], w)
        bz0 += part0
        bb_col += part_b
        if bzt is not None and part_t is not None:
            bzt += part_t
    new_bz0 = products.bz0.copy()
    new_bz0[:, :, -1] = bz0
    new_bb = products.bb.copy()
    new_bb[:, -1] = bb_col
    new_bb[-1, :] = bb_col
    new_bzt = None
    if products.bzt is not None and bzt is not None:
        new_bzt = products.bzt.copy()
        new_bzt[:, -1] = bzt
    return replace(products, bz0=new_bz0, bzt=new_bzt, bb=new_bb)
