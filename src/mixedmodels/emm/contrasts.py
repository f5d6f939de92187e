"""Contrast families among ``k`` estimated marginal means: each a matrix ``C`` (one row per
contrast, one column per mean) with a name for each row, and the adjustment it is tested
with by default.

``pairwise`` (``a - b`` for every pair in order), ``revpairwise`` (``b - a``),
``trt.vs.ctrl`` (each mean less the first, or less the mean ``ref``), ``consec`` (each less
the one before), ``eff`` (each less the mean of all), ``poly`` (orthogonal polynomials in the
means' order, scaled to small integers), or the user's own: a mapping of names to
coefficient vectors, or a matrix with one row per contrast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mixedmodels.errors import ModelSpecError

__all__ = ["METHODS", "ContrastFamily", "contrast_family"]

#: The named contrast families.
METHODS = ("pairwise", "revpairwise", "trt.vs.ctrl", "consec", "eff", "poly")

_DEFAULT_ADJUST = {
    "pairwise": "tukey",
    "revpairwise": "tukey",
    "trt.vs.ctrl": "holm",
    "consec": "holm",
    "eff": "holm",
    "poly": "none",
}


@dataclass(frozen=True)
class ContrastFamily:
    """A family of contrasts among ``k`` means.

    Attributes
    ----------
    names : tuple of str
    coefficients : numpy.ndarray
        ``(n_contrasts, k)``.
    default_adjust : str
        The adjustment used unless another is asked for.
    pairwise : bool
        Every row the difference of two means (Tukey's method applies).
    """

    names: tuple[str, ...]
    coefficients: np.ndarray
    default_adjust: str
    pairwise: bool


def _poly(k: int) -> np.ndarray:
    """Orthogonal polynomial contrasts of degrees 1 to k - 1 over k equally spaced points,
    each scaled so that its smallest non-zero coefficient is one in absolute value (the
    integer tables of Fisher & Yates for small k)."""
    x = np.arange(k, dtype=np.float64) - (k - 1) / 2.0
    basis = np.vander(x, k, increasing=True)
    q, _ = np.linalg.qr(basis)
    rows = []
    for degree in range(1, k):
        column = q[:, degree]
        column = np.where(np.abs(column) < 1e-10, 0.0, column)
        column = column / np.min(np.abs(column[column != 0]))
        if column[-1] < 0:  # increasing trend positive, as R's contr.poly
            column = -column
        rows.append(np.round(column, 10))
    return np.array(rows)


_DEGREE_NAMES = ("linear", "quadratic", "cubic", "quartic")


def contrast_family(method: Any, labels: Sequence[str], ref: int = 0) -> ContrastFamily:
    """The contrasts ``method`` among means labelled ``labels``.

    Parameters
    ----------
    method : str, mapping or array-like
        One of :data:`METHODS`; a mapping of contrast names to coefficient vectors; or a
        matrix ``(n_contrasts, k)``.
    labels : sequence of str
        The means' labels, in their order.
    ref : int
        The control of ``trt.vs.ctrl`` (its position among the means).
    """
    k = len(labels)
    if isinstance(method, str):
        if method not in METHODS:
            raise ModelSpecError(
                f"contrast method {method!r} is not one of {', '.join(METHODS)}; or pass a "
                "mapping of names to coefficient vectors, or a matrix"
            )
        if k < 2:
            raise ModelSpecError(f"contrasts need at least two means; there is {k}")
        eye = np.eye(k)
        names: list[str]
        if method in ("pairwise", "revpairwise"):
            pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
            if method == "revpairwise":
                pairs = [(j, i) for i, j in pairs]
            rows = [eye[a] - eye[b] for a, b in pairs]
            names = [f"{labels[a]} - {labels[b]}" for a, b in pairs]
        elif method == "trt.vs.ctrl":
            if not 0 <= ref < k:
                raise ModelSpecError(f"ref must be the position of one of the {k} means, not {ref}")
            others = [i for i in range(k) if i != ref]
            rows = [eye[i] - eye[ref] for i in others]
            names = [f"{labels[i]} - {labels[ref]}" for i in others]
        elif method == "consec":
            rows = [eye[i] - eye[i - 1] for i in range(1, k)]
            names = [f"{labels[i]} - {labels[i - 1]}" for i in range(1, k)]
        elif method == "eff":
            rows = [eye[i] - 1.0 / k for i in range(k)]
            names = [f"{labels[i]} effect" for i in range(k)]
        else:
            rows = list(_poly(k))
            names = [
                _DEGREE_NAMES[d] if d < len(_DEGREE_NAMES) else f"degree {d + 1}"
                for d in range(k - 1)
            ]
        pairwise = method in ("pairwise", "revpairwise", "trt.vs.ctrl", "consec")
        return ContrastFamily(tuple(names), np.array(rows), _DEFAULT_ADJUST[method], pairwise)
    if isinstance(method, Mapping):
        names = [str(n) for n in method]
        matrix = np.array([np.asarray(v, dtype=np.float64) for v in method.values()])
    else:
        matrix = np.atleast_2d(np.asarray(method, dtype=np.float64))
        names = [f"c{i + 1}" for i in range(matrix.shape[0])]
    if matrix.ndim != 2 or matrix.shape[1] != k:
        raise ModelSpecError(
            f"each contrast needs {k} coefficients, one per mean ({', '.join(labels)}); "
            f"got shape {matrix.shape}"
        )
    if not np.all(np.isfinite(matrix)):
        raise ModelSpecError("contrast coefficients must be finite numbers")
    is_pair = bool(
        np.all(np.sort(matrix, axis=1)[:, [0, -1]] == [-1.0, 1.0])
        and np.all(np.count_nonzero(matrix, axis=1) == 2)
    )
    return ContrastFamily(tuple(names), matrix, "none", is_pair)
