"""Model matrices through formulaic, with its errors turned into ours."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula, model_matrix

from mixedmodels.errors import FormulaError

__all__ = [
    "required_columns",
    "design_matrix",
    "encode",
    "encode_new",
    "intercept_name",
    "readable",
]

INTERCEPT = "(Intercept)"


def intercept_name(name: str) -> str:
    """formulaic calls the intercept ``Intercept``; lme4 users read ``(Intercept)``."""
    return INTERCEPT if name == "Intercept" else name


def required_columns(expression: str, where: str) -> set[str]:
    """The data columns that a formulaic expression reads."""
    try:
        return {str(v) for v in Formula(expression).required_variables}
    except Exception as exc:
        raise FormulaError(f"cannot read {where} {expression!r}: {exc}") from None


def readable(data: pd.DataFrame) -> pd.DataFrame:
    """``data`` with pandas' ``string`` columns (missing value pd.NA, e.g. ``string[pyarrow]``,
    which Dask gives by default) as object columns: formulaic does not read them as
    categorical and fails on their values."""
    text = [
        c
        for c, dtype in data.dtypes.items()
        if isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA
    ]
    if not text:
        return data
    return data.assign(**{str(c): data[c].astype(object) for c in text})


def encode(expression: str, data: pd.DataFrame, where: str) -> tuple[np.ndarray, list[str], Any]:
    """Materialize a right-hand side: float64 matrix, column names and formulaic's
    ModelSpec (which encodes new data exactly like this data)."""
    data = readable(data)
    try:
        matrix = model_matrix(expression, data, na_action="raise")
    except Exception as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FormulaError(f"cannot build {where} {expression!r}: {message}") from None
    names = [intercept_name(str(c)) for c in matrix.columns]
    values = np.asarray(matrix, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    return np.ascontiguousarray(values), names, matrix.model_spec


def encode_new(spec: Any, data: pd.DataFrame, where: str) -> np.ndarray:
    """Encode new data with a ModelSpec from :func:`encode`."""
    data = readable(data)
    try:
        matrix = spec.get_model_matrix(data, na_action="raise")
    except Exception as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FormulaError(f"cannot encode the new data for {where}: {message}") from None
    values = np.asarray(matrix, dtype=np.float64)
    return values[:, None] if values.ndim == 1 else values


def design_matrix(expression: str, data: pd.DataFrame, where: str) -> tuple[np.ndarray, list[str]]:
    """Materialize a right-hand side as a float64 matrix with its column names."""
    values, names, _ = encode(expression, data, where)
    return values, names
