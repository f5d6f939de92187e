"""The response of a model: numeric for LMMs; for binomial GLMMs also ``cbind(s, f)``,
a factor (first level = failure) or a boolean."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mixedmodels.design.materialize import design_matrix
from mixedmodels.errors import DataError
from mixedmodels.formula.scan import split_top_level

__all__ = ["read_response", "response_expressions"]


def _single_column(expression: str, data: pd.DataFrame, what: str) -> np.ndarray:
    values, _ = design_matrix(f"0 + {expression}", data, what)
    if values.shape[1] != 1:
        raise DataError(
            f"{what} {expression!r} gives {values.shape[1]} columns; it must be numeric"
        )
    return values[:, 0]


def _cbind(text: str) -> tuple[str, str] | None:
    stripped = text.strip()
    if not (stripped.startswith("cbind(") and stripped.endswith(")")):
        return None
    parts = [p.strip() for _, p in split_top_level(stripped[6:-1], ",")]
    if len(parts) != 2 or not all(parts):
        raise DataError(
            f"the response {text!r} must be cbind(successes, failures) with two arguments"
        )
    return parts[0], parts[1]


def _two_labels(column: str, labels: list[str]) -> None:
    """A categorical binomial response has two labels, failure then success."""
    if len(labels) != 2:
        raise DataError(
            f"the binomial response {column!r} has {len(labels)} labels "
            f"({', '.join(repr(v) for v in labels[:6])}); it needs two, the failure and the "
            "success: give a 0/1 or boolean column (e.g. df[col] == 'yes')"
        )


def read_response(text: str, data: pd.DataFrame, kind: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The response vector, and for a binomial ``cbind`` response the number of trials.

    Parameters
    ----------
    text : str
        The left-hand side of the formula.
    data : pandas.DataFrame
        The rows used.
    kind : str
        ``"numeric"`` (LMMs, Poisson) or ``"binomial"``.
    """
    column = text.strip()
    if kind == "binomial":
        pair = _cbind(column)
        if pair is not None:
            # I(): inside cbind, a - b is arithmetic, not formula syntax
            s = _single_column(f"I({pair[0]})", data, "the successes of")
            f = _single_column(f"I({pair[1]})", data, "the failures of")
            for values, what, expr in ((s, "successes", pair[0]), (f, "failures", pair[1])):
                bad = (values < 0) | (values != np.round(values))
                if bad.any():
                    raise DataError(
                        f"the {what} {expr!r} of a cbind() response must be non-negative "
                        f"whole numbers; found {values[bad][0]!r}"
                    )
            trials = s + f
            y = np.divide(s, trials, out=np.zeros_like(s), where=trials > 0)
            return y, trials
        if column in data.columns:
            series = data[column]
            if isinstance(series.dtype, pd.CategoricalDtype):
                _two_labels(
                    column, [str(c) for c in series.cat.categories[np.unique(series.cat.codes)]]
                )
                codes = series.cat.codes.to_numpy()
                return (codes > 0).astype(np.float64), None
            if series.dtype.kind == "b":
                return series.to_numpy(dtype=np.float64), None
            if series.dtype.kind in "OSUT" or str(series.dtype) in ("string", "str"):
                labels = series.astype(str).to_numpy()
                # R's order of a factor's levels: by its collation, which ignores case
                # ("no" before "Yes"); the first level is the failure
                present = sorted(set(labels.tolist()), key=lambda v: (v.casefold(), v))
                _two_labels(column, present)
                return (labels != present[0]).astype(np.float64), None
    elif column in data.columns and data[column].dtype.kind not in "biuf":
        raise DataError(
            f"the response {column!r} has dtype {data[column].dtype}; this model needs a "
            "numeric response"
        )
    # R evaluates a response as an expression: incidence/size is a ratio, not nesting (a
    # column is read as it is: its name may be a Python keyword, as Wheat2's 'yield')
    expression = column if column in data.columns else f"I({column})"
    return _single_column(expression, data, "the response"), None


def response_expressions(text: str, kind: str) -> list[str]:
    """The expressions whose columns the response reads (both sides of ``cbind``)."""
    pair = _cbind(text) if kind == "binomial" else None
    return [f"I({part})" for part in pair] if pair is not None else [text]
