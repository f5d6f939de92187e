"""The fixed-effects model matrix: aliased (linearly dependent) columns are dropped."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from mixedmodels.errors import RankDeficiencyWarning

__all__ = ["aliased_columns", "independent_columns", "r_factor"]

#: Relative size below which a column counts as a combination of earlier ones
#: (the tolerance of R's ``qr``, so the same columns are dropped as in lme4).
RANK_TOLERANCE = 1e-7


#: Rows per block of the tall-skinny QR in :func:`r_factor`.
QR_BLOCK_ROWS = 65_536


def r_factor(X: np.ndarray) -> np.ndarray:
    """The ``p x p`` R factor of ``X = QR`` (up to the signs of its rows), by a tall-skinny
    QR: the R factors of blocks of rows, stacked, factored again. Householder QR is
    backward stable either way; the blocks stay in cache and are copied to LAPACK's
    order one at a time (1M x 2: 18 ms against 45 ms for one QR of all rows)."""
    n, p = X.shape
    if n <= QR_BLOCK_ROWS:
        r: np.ndarray = scipy.linalg.qr(X, mode="r", check_finite=False)[0][:p]
        return r
    blocks = [
        scipy.linalg.qr(X[i : i + QR_BLOCK_ROWS], mode="r", check_finite=False)[0][:p]
        for i in range(0, n, QR_BLOCK_ROWS)
    ]
    return r_factor(np.vstack(blocks))


#: Columns whose R-factor ratios from the normal equations all exceed this are kept
#: without a QR: the Cholesky factor of X'X has the same diagonal as R in exact
#: arithmetic, and its rounding error (about 1e-16 / ratio^2 relative) cannot carry a
#: ratio above this down to ``RANK_TOLERANCE``.
CLEAR_RATIO = 1e-3


def _clearly_independent(gram: np.ndarray, norms: np.ndarray) -> bool:
    """True when the Cholesky factor of ``gram`` shows every column far from the span
    of those before it."""
    try:
        chol = np.linalg.cholesky(gram)
    except np.linalg.LinAlgError:
        return False
    ratio = np.diag(chol) / norms
    return bool(np.all(np.isfinite(ratio)) and np.all(ratio > CLEAR_RATIO))


def independent_columns(X: np.ndarray) -> np.ndarray:
    """Indices of the columns of ``X`` to keep.

    A column is dropped when it is (numerically) a linear combination of the columns
    before it: the diagonal of the R factor of an unpivoted QR decomposition, relative
    to the column's norm, is below ``RANK_TOLERANCE``. Later columns are kept in
    preference to none, earlier ones in preference to later ones, as R does. The rows
    are read once: the R factor of a subset of the columns is that of the same columns
    of the full R factor.
    """
    gram = X.T @ X
    norms = np.sqrt(np.diag(gram))
    keep: np.ndarray = np.flatnonzero(norms > 0)
    if not keep.size:
        return keep
    if _clearly_independent(gram[np.ix_(keep, keep)], norms[keep]):
        return keep
    full = r_factor(X[:, keep])
    position = np.arange(keep.size)  # columns of ``full`` still kept
    while position.size:
        r = scipy.linalg.qr(full[:, position], mode="r", check_finite=False)[0]
        ratio = np.abs(np.diag(r)[: position.size]) / norms[keep[position]]
        bad = np.flatnonzero(ratio < RANK_TOLERANCE)
        if bad.size == 0:
            break
        position = np.delete(position, bad[0])
    kept: np.ndarray = keep[position]
    return kept


def aliased_columns(fixed_names: list[str], keep: np.ndarray, stacklevel: int) -> tuple[str, ...]:
    """The names of the columns not in ``keep``, with a RankDeficiencyWarning naming them
    (``stacklevel`` as for :func:`warnings.warn`, counted from the caller)."""
    kept = set(keep.tolist())
    aliased = tuple(n for i, n in enumerate(fixed_names) if i not in kept)
    if aliased:
        warnings.warn(
            "the fixed-effects model matrix is rank deficient: dropped "
            f"{len(aliased)} column(s) that are combinations of others: {', '.join(aliased)}",
            RankDeficiencyWarning,
            stacklevel=stacklevel + 1,
        )
    return aliased
