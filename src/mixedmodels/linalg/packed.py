"""The lower triangle of a symmetric matrix in LAPACK's rectangular full packed format.

A dense panel with no rows below it (the root of the elimination tree, on a crossed design
the dense core of the popular items) needs only its lower triangle: ``n (n + 1) / 2``
doubles instead of ``n^2``. The rectangular full packed format (Gustavson, Wasniewski,
Dongarra and Langou 2010, LAPACK's ``dpftrf`` and ``dpftri``) keeps that triangle in one
rectangle, so that the factorization and the inverse still run as level-3 BLAS.

With ``TRANSR = 'N'`` and ``UPLO = 'L'`` and ``n1`` the order of the first half (``n / 2``
for an even ``n``, ``(n + 1) / 2`` for an odd one), the rectangle has ``lda`` rows
(``n + 1`` or ``n``) and ``n1`` columns, stored column-major:

* an entry ``(i, j)``, ``i >= j``, of the first ``n1`` columns sits in the rectangle's
  column ``j`` at row ``i + shift`` (``shift`` is 1 for an even ``n``, 0 for an odd one),
  so each of these columns is contiguous;
* an entry of the other columns sits transposed, at row ``j - n1`` and column
  ``i - n1 + 1 - shift``, so each of these columns is a row of the rectangle (stride
  ``lda``).

Only entries on and below the diagonal exist; the functions here address those.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "column",
    "diagonal",
    "gather_lower",
    "offsets",
    "size",
    "subtract_block",
    "subtract_lower",
]


#: Rows of a block gathered or subtracted at once in the packed rectangle's second half:
#: its temporaries stay small (fresh large ones cost page faults on every first use).
CHUNK_ROWS = 256


def size(n: int) -> int:
    """Doubles stored for a matrix of order ``n``."""
    return n * (n + 1) // 2


def _layout(n: int) -> tuple[int, int, int]:
    """``(n1, lda, shift)`` for order ``n``."""
    if n % 2 == 0:
        return n // 2, n + 1, 1
    return (n + 1) // 2, n, 0


def offsets(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Where the entries ``(i, j)``, ``i >= j``, lie in the packed array (int64)."""
    n1, lda, shift = _layout(n)
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    first = i + shift + j * lda
    second = (j - n1) + (i - n1 + 1 - shift) * lda
    out: np.ndarray = np.where(j < n1, first, second)
    return out


def diagonal(n: int) -> np.ndarray:
    """The positions of the diagonal entries, in order."""
    at = np.arange(n, dtype=np.int64)
    return offsets(n, at, at)


def column(flat: np.ndarray, n: int, j: int) -> np.ndarray:
    """Column ``j`` from its diagonal down (rows ``j`` to ``n - 1``): a view, contiguous in
    the first half and of stride ``lda`` in the second."""
    n1, lda, shift = _layout(n)
    if j < n1:
        start = j + shift + j * lda
        return flat[start : start + n - j]
    start = (j - n1) + (j - n1 + 1 - shift) * lda
    return flat[start : start + (n - 1 - j) * lda + 1 : lda]


def _rectangle(flat: np.ndarray, n: int) -> np.ndarray:
    """The packed array as its ``lda x n1`` column-major rectangle (a view)."""
    n1, lda, _ = _layout(n)
    out: np.ndarray = flat[: lda * n1].reshape((lda, n1), order="F")
    return out


def subtract_block(flat: np.ndarray, n: int, r0: int, c0: int, block: np.ndarray) -> None:
    """Subtract ``block`` from the rows ``r0:`` and columns ``c0:`` it covers, where they
    lie on or below the diagonal (``r0 >= c0``); its entries above the diagonal are not
    read. One or two rectangles of the packed array receive it, as array slices."""
    rows, width = block.shape
    c1 = c0 + width
    if r0 < c0:
        raise ValueError(
            "a block of the lower triangle starts on or below the diagonal "
            f"(row {r0} < column {c0})"
        )
    if r0 < c1 - 1:  # it crosses the diagonal: the part above is not the matrix's
        block = np.array(block, dtype=np.float64, order="F")
        lower = np.tril(np.ones((min(rows, c1 - r0), width), dtype=bool), r0 - c0)
        block[: lower.shape[0]][~lower] = 0.0
    n1, _, shift = _layout(n)
    R = _rectangle(flat, n)
    split = min(max(n1, c0), c1)
    if split > c0:  # columns of the first half: the rectangle's columns
        R[r0 + shift : r0 + shift + rows, c0:split] -= block[:, : split - c0]
    if c1 > split:  # the second half: its rows, from the first row on the diagonal
        top = max(r0, split)
        part = block[top - r0 :, split - c0 :]
        first = top - n1 + 1 - shift
        R[split - n1 : c1 - n1, first : first + part.shape[0]] -= part.T


def gather_lower(flat: np.ndarray, n: int, rows: np.ndarray, width: int, out: np.ndarray) -> None:
    """``out[x, y] = A[rows[x], rows[y]]`` for ``x >= y``, ``y < width`` (``rows`` sorted,
    distinct); the entries of ``out`` above its diagonal are left undefined.

    The first half's columns are read one by one (each is contiguous). The second half's
    columns are rows of the packed rectangle: they are read from the transposed rectangle,
    :data:`CHUNK_ROWS` rows of the block at a time, each row of the block from one
    contiguous column of the rectangle. For a block of 2,600 rows and 256 columns of a
    6,224-item root this took 2.6 ms, against 5.8 ms column by column at a stride of
    ``lda``, 8.4 ms in one gather (its large temporary, transposed into ``out``) and 1.2 ms
    for the same columns of a square."""
    n1, lda, shift = _layout(n)
    split = int(np.searchsorted(rows[:width], n1))
    for y in range(split):
        c = int(rows[y])
        column(flat, n, c).take(rows[y:] - c, out=out[y:, y])
    if split < width:
        turned = _rectangle(flat, n).T
        at_rows = rows - (n1 - 1 + shift)
        at_cols = rows[None, split:width] - n1
        for x in range(split, rows.size, CHUNK_ROWS):
            stop = min(x + CHUNK_ROWS, rows.size)
            out[x:stop, split:width] = turned[at_rows[x:stop, None], at_cols]


def subtract_lower(flat: np.ndarray, n: int, rows: np.ndarray, block: np.ndarray) -> None:
    """Subtract ``block[x, y]`` from ``A[rows[x], rows[y]]`` for ``x >= y`` (``rows``
    sorted, distinct; ``block`` has ``rows.size`` rows); its entries above the diagonal are
    not read. The halves are written as :func:`gather_lower` reads them; the second half's
    fancy-indexed subtraction costs about 2.3 times a square's column by column (3.7
    against 1.6 ms for the block above), the price of the packed root's half storage."""
    width = block.shape[1]
    n1, lda, shift = _layout(n)
    split = int(np.searchsorted(rows[:width], n1))
    for y in range(split):
        c = int(rows[y])
        column(flat, n, c)[rows[y:] - c] -= block[y:, y]
    if split < width:
        diagonal_block = np.tril(block[split:width, split:])  # above it: not the matrix's
        turned = _rectangle(flat, n).T
        at_rows = rows - (n1 - 1 + shift)
        at_cols = rows[split:width] - n1
        # distinct rows and columns, all on or below the diagonal's row: no index repeats
        for x in range(split, rows.size, CHUNK_ROWS):
            stop = min(x + CHUNK_ROWS, rows.size)
            part = block[x:stop, split:]
            if x < width:  # the chunk's rows from the diagonal block
                part = part.copy()
                inside = min(stop, width)
                part[: inside - x] = diagonal_block[x - split : inside - split]
            turned[np.ix_(at_rows[x:stop], at_cols)] -= part
