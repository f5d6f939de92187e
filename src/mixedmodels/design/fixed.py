"""The fixed-effects model matrix: aliased (linearly dependent) columns are dropped."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from mixedmodels.errors import RankDeficiencyWarning

__all__ = ["aliased_columns", "independent_columns"]

#: Relative size below which a column counts as a combination of earlier ones
#: (the tolerance of R's ``qr``, so the same columns are dropped as in lme4).
RANK_TOLERANCE = 1e-7


def independent_columns(X: np.ndarray) -> np.ndarray:
    """Indices of the columns of ``X`` to keep.

    A column is dropped when it is (numerically) a linear combination of the columns
    before it: the diagonal of the R factor of an unpivoted QR decomposition, relative
    to the column's norm, is below ``RANK_TOLERANCE``. Later columns are kept in
    preference to none, earlier ones in preference to later ones, as R does.
    """
    keep = np.arange(X.shape[1])
    norms = np.sqrt(np.einsum("ij,ij->j", X, X))
    keep = keep[norms > 0]
    while keep.size:
        r = scipy.linalg.qr(X[:, keep], mode="r", check_finite=False)[0]
        ratio = np.abs(np.diag(r)[: keep.size]) / norms[keep]
        bad = np.flatnonzero(ratio < RANK_TOLERANCE)
        if bad.size == 0:
            break
        keep = np.delete(keep, bad[0])
    return keep


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
