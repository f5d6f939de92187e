"""The rectangular full packed layout against LAPACK's own conversion (dtrttf)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import lapack

from mixedmodels.linalg import packed


@pytest.mark.parametrize("n", [1, 2, 3, 6, 7, 10, 11, 32, 33])
def test_positions_and_columns_are_lapacks(n: int) -> None:
    rng = np.random.default_rng(n)
    A = np.tril(rng.standard_normal((n, n)))
    flat, info = lapack.dtrttf(np.asfortranarray(A), transr="N", uplo="L")
    assert info == 0
    assert flat.size == packed.size(n)
    i, j = np.tril_indices(n)
    np.testing.assert_array_equal(flat[packed.offsets(n, i, j)], A[i, j])
    np.testing.assert_array_equal(flat[packed.diagonal(n)], np.diag(A))
    for c in range(n):
        np.testing.assert_array_equal(packed.column(flat, n, c), A[c:, c])
        view = packed.column(flat, n, c)
        assert np.shares_memory(view, flat)


@pytest.mark.parametrize("n", [1, 2, 5, 6, 9, 12])
def test_subtract_block_touches_the_lower_triangle_only(n: int) -> None:
    rng = np.random.default_rng(100 + n)
    A = np.tril(rng.standard_normal((n, n)))
    flat, _ = lapack.dtrttf(np.asfortranarray(A), transr="N", uplo="L")
    for _ in range(40):
        c0 = int(rng.integers(0, n))
        width = int(rng.integers(1, n - c0 + 1))
        r0 = int(rng.integers(c0, n))
        rows = int(rng.integers(1, n - r0 + 1))
        block = rng.standard_normal((rows, width))
        expected = A.copy()
        below = np.arange(r0, r0 + rows)[:, None] >= np.arange(c0, c0 + width)[None, :]
        expected[r0 : r0 + rows, c0 : c0 + width][below] -= block[below]
        got = flat.copy()
        packed.subtract_block(got, n, r0, c0, block)
        back, _ = lapack.dtfttr(n, got, transr="N", uplo="L")
        np.testing.assert_allclose(np.tril(back), expected, rtol=0, atol=1e-14)


def test_a_block_above_the_diagonal_is_refused() -> None:
    flat = np.zeros(packed.size(4))
    with pytest.raises(ValueError, match="diagonal"):
        packed.subtract_block(flat, 4, 0, 1, np.ones((2, 2)))


@pytest.mark.parametrize("chunk", [1, 3, packed.CHUNK_ROWS])
@pytest.mark.parametrize("n", [1, 2, 5, 6, 9, 12, 31])
def test_gather_and_subtract_on_sorted_rows(
    monkeypatch: pytest.MonkeyPatch, n: int, chunk: int
) -> None:
    """Blocks on sorted rows whose first ``width`` rows are also its columns, in either
    half of the packed layout or across both (the blocks the supernodal kernels read
    and update in a packed root), a few rows at a time or all at once."""
    monkeypatch.setattr(packed, "CHUNK_ROWS", chunk)
    rng = np.random.default_rng(200 + n)
    A = np.tril(rng.standard_normal((n, n)))
    flat, _ = lapack.dtrttf(np.asfortranarray(A), transr="N", uplo="L")
    for _ in range(40):
        rows = np.sort(rng.choice(n, int(rng.integers(1, n + 1)), replace=False))
        width = int(rng.integers(1, rows.size + 1))
        below = np.arange(rows.size)[:, None] >= np.arange(width)[None, :]
        out = np.full((rows.size, width), np.nan, order="F")
        packed.gather_lower(flat, n, rows, width, out)
        np.testing.assert_array_equal(out[below], A[np.ix_(rows, rows[:width])][below])
        block = rng.standard_normal((rows.size, width))
        expected = A.copy()
        sub = expected[np.ix_(rows, rows[:width])]
        sub[below] -= block[below]
        expected[np.ix_(rows, rows[:width])] = sub
        got = flat.copy()
        packed.subtract_lower(got, n, rows, np.asfortranarray(block))
        back, _ = lapack.dtfttr(n, got, transr="N", uplo="L")
        np.testing.assert_allclose(np.tril(back), expected, rtol=0, atol=1e-14)
