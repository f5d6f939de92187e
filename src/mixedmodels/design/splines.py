"""R's spline bases as stateful transforms: the natural cubic spline ``splines::ns``, and
``splines::bs`` under R's names and extrapolation.

A natural cubic spline is a cubic spline that is linear beyond its boundary knots. Its
basis is the cubic B-spline basis on the interior and boundary knots, constrained to a
zero second derivative at both boundaries: with ``C`` the ``2 x m`` matrix of the
B-splines' second derivatives there and ``C' = QR`` (Householder), the basis is ``B Q2``,
``Q2`` the last ``m - 2`` columns of ``Q`` (Hastie, 1992, *Generalized additive models*,
in Chambers and Hastie, *Statistical Models in S*, ch. 7; the construction R documents
for ``ns``). LAPACK's Householder QR and LINPACK's, which R calls, choose the same
reflectors, so the columns are R's, not just a basis of the same space.

The interior knots are quantiles of the training ``x`` (R's default quantile, numpy's
``"linear"``), the boundary knots its range; both are remembered, so new data get the
training basis, extended linearly beyond the boundary as in R.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import scipy.interpolate
import scipy.linalg
from formulaic.materializers.types import FactorValues
from formulaic.transforms import basis_spline
from formulaic.transforms import poly as formulaic_poly
from formulaic.utils.stateful_transforms import stateful_transform

__all__ = ["bs", "natural_spline_basis", "ns", "poly"]

_ORDER = 4  # cubic


def _check_basis(call: str, columns: int, x: Any) -> None:
    """A basis needs fewer columns than the distinct values it is fitted to (R's poly
    says the same of its degree): more could not be estimated, and their size, not the
    data's, would decide the memory a fit takes."""
    values = np.asarray(x, dtype=np.float64)
    distinct = np.unique(values[np.isfinite(values)]).size
    if columns >= max(distinct, 2):
        raise ValueError(
            f"{call}: {columns} columns need more than the {distinct} distinct values of x"
        )


def _bspline_values(knots: np.ndarray, x: np.ndarray, derivative: int = 0) -> np.ndarray:
    """The cubic B-splines on ``knots`` (their ``derivative``), at ``x`` inside the
    boundary: ``len(x) x (len(knots) - 4)``."""
    m = knots.size - _ORDER
    spline = scipy.interpolate.BSpline(knots, np.eye(m), _ORDER - 1, extrapolate=True)
    if derivative:
        spline = spline.derivative(derivative)
    values: np.ndarray = spline(x)
    return values.reshape(x.size, m)


def natural_spline_basis(
    x: np.ndarray, interior: np.ndarray, boundary: tuple[float, float], intercept: bool
) -> np.ndarray:
    """The natural cubic spline basis at ``x``: ``len(x) x (len(interior) + 1 +
    intercept)`` columns, linear beyond ``boundary``."""
    lower, upper = boundary
    knots = np.concatenate([[lower] * _ORDER, np.sort(interior), [upper] * _ORDER])
    m = knots.size - _ORDER
    basis = np.empty((x.size, m))
    for side, beyond in ((lower, x < lower), (upper, x > upper)):
        if beyond.any():
            at = np.array([side])
            value = _bspline_values(knots, at)[0]
            slope = _bspline_values(knots, at, 1)[0]
            basis[beyond] = value + np.outer(x[beyond] - side, slope)
    inside = (x >= lower) & (x <= upper)
    basis[inside] = _bspline_values(knots, x[inside])
    constraint = _bspline_values(knots, np.array([lower, upper]), 2)
    if not intercept:
        basis, constraint = basis[:, 1:], constraint[:, 1:]
    q, _ = scipy.linalg.qr(constraint.T)
    natural: np.ndarray = basis @ q[:, 2:]
    return natural


def _ns(  # the default is replaced by formulaic's state, as for its own transforms
    x: Any,
    df: int | None = None,
    knots: Iterable[float] | None = None,
    intercept: bool = False,
    _state: dict[str, Any] = {},  # noqa: B006
) -> FactorValues[dict[int, np.ndarray]]:
    """R's ``ns(x, df)``: the natural cubic spline basis with ``df`` columns (interior
    knots at quantiles of ``x``) or with the interior ``knots`` given."""
    values = np.asarray(x, dtype=np.float64)
    if "boundary" not in _state:
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            raise ValueError("ns() needs finite values")
        if knots is None:
            n_interior = 0 if df is None else int(df) - 1 - int(bool(intercept))
            _check_basis("ns()", n_interior + 1 + int(bool(intercept)), finite)
            if n_interior < 0:
                raise ValueError(f"ns(): df = {df} is too small (at least {1 + int(intercept)})")
            probs = np.linspace(0.0, 1.0, n_interior + 2)[1:-1]
            interior = np.quantile(finite, probs) if probs.size else np.empty(0)
        else:
            interior = np.sort(np.atleast_1d(np.asarray(knots, dtype=np.float64)))
        _state["boundary"] = [float(finite.min()), float(finite.max())]
        _state["knots"] = [float(k) for k in interior]
    lower, upper = _state["boundary"]
    basis = natural_spline_basis(
        values, np.asarray(_state["knots"]), (lower, upper), bool(intercept)
    )
    return FactorValues(
        {i + 1: basis[:, i] for i in range(basis.shape[1])},
        kind="numerical",
        # as in R, a basis with its intercept and the model's are both kept, and the
        # aliased column is dropped with a warning (design.fixed)
        spans_intercept=False,
        format="{name}[{field}]",
        encoded=False,
    )


def _bs(  # the default is replaced by formulaic's state, as for its own transforms
    x: Any,
    df: int | None = None,
    knots: Iterable[float] | None = None,
    degree: int = 3,
    intercept: bool = False,
    _state: dict[str, Any] = {},  # noqa: B006
) -> FactorValues[dict[int, np.ndarray]]:
    """R's ``bs(x, df, knots, degree, intercept)``: formulaic's B-spline basis (R's, as
    its tests show) under R's argument names, and, as R's, extended beyond the training
    range by the end pieces' polynomials rather than refused."""
    if not _state:
        given: Any = [] if knots is None else knots
        n_knots = np.atleast_1d(np.asarray(given, dtype=np.float64)).size
        columns = (int(df) if df is not None else n_knots + degree) + int(bool(intercept))
        _check_basis("bs()", columns, x)
    result: FactorValues[dict[int, np.ndarray]] = basis_spline(
        x,
        df=df,
        knots=None if knots is None else np.atleast_1d(np.asarray(knots, dtype=float)).tolist(),
        degree=degree,
        include_intercept=intercept,
        extrapolation="extend",
        _state=_state,
    )
    return result


def _poly(
    x: Any,
    degree: int = 1,
    raw: bool = False,
    _state: dict[str, Any] = {},  # noqa: B006
) -> Any:
    """R's ``poly(x, degree, raw)``: formulaic's (R's coefficients), with R's check that
    the degree is below the number of distinct values."""
    if not _state:
        _check_basis("poly()", int(degree), x)
    return formulaic_poly(x, degree=degree, raw=raw, _state=_state)


#: ``ns``, ``bs`` and ``poly`` as formulaic stateful transforms (its decorator is untyped).
ns: Any = stateful_transform(_ns)
bs: Any = stateful_transform(_bs)
poly: Any = stateful_transform(_poly)
