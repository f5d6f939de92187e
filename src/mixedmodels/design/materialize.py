"""Model matrices through formulaic, with its errors turned into ours."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula, model_matrix

from mixedmodels.design.namespace import (
    check_expression,
    column_names,
    formula_context,
    ordered_as_polynomial,
    r_contrast_name,
)
from mixedmodels.design.rmath import R_MATH
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


_RAW_POWER = re.compile(r"^(poly\(.*raw\s*=\s*(?:TRUE|True).*\))\[(\d+)\]$")


def intercept_name(name: str) -> str:
    """formulaic calls the intercept ``Intercept``; lme4 users read ``(Intercept)``. Its
    raw polynomials count their powers from 0 (``poly(x, 2, raw=TRUE)[0]`` is ``x``);
    R's names are the powers, ``[1]`` and ``[2]``."""
    if name == "Intercept":
        return INTERCEPT
    raw = _RAW_POWER.match(name)
    return f"{raw.group(1)}[{int(raw.group(2)) + 1}]" if raw else name


def required_columns(expression: str, where: str) -> set[str]:
    """The data columns that a formulaic expression reads, after checking that it names
    nothing a formula may not evaluate (:mod:`mixedmodels.design.namespace`; R's
    mathematical names, such as ``pi``, are not columns unless the data has them)."""
    check_expression(expression, where)
    try:
        _required_variables(expression)  # formulaic's parse: its syntax errors, named
    except Exception as exc:
        raise FormulaError(f"cannot read {where} {expression!r}: {exc}") from None
    return column_names(expression) - set(R_MATH)


@lru_cache(maxsize=256)
def _required_variables(expression: str) -> frozenset[str]:
    """formulaic's parse of an expression depends on its text alone: a simulation that
    fits one formula thousands of times parses it once."""
    return frozenset(str(v) for v in Formula(expression).required_variables)


#: A boolean column's levels, in R's order: a logical is a factor with levels FALSE, TRUE.
BOOLEAN_LEVELS = pd.CategoricalDtype([False, True])


def readable(data: pd.DataFrame) -> pd.DataFrame:
    """``data`` as formulaic should read it: pandas' ``string`` columns (missing value
    pd.NA, e.g. ``string[pyarrow]``, which Dask gives by default) as object columns
    (formulaic does not read them as categorical and fails on their values), and boolean
    columns as categoricals with levels FALSE, TRUE, as R's model matrices read logicals
    (``late`` is the column ``late[T.True]``, R's ``lateTRUE``; ``0 + late`` or a random
    term ``(0 + late | g)`` has a column for each level)."""
    dtypes = list(data.dtypes.items())
    text = [
        c for c, dtype in dtypes if isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA
    ]
    logical = [c for c, dtype in dtypes if pd.api.types.is_bool_dtype(dtype)]
    if not text and not logical:
        return data
    return data.assign(
        **{str(c): data[c].astype(object) for c in text},
        **{str(c): data[c].astype(BOOLEAN_LEVELS) for c in logical},
    )


_TOKEN = re.compile(r"\s*([+-]|[A-Za-z_][A-Za-z0-9_.]*|[0-9]+)\s*")


def _plain_columns(
    expression: str, data: pd.DataFrame
) -> tuple[bool, list[str], list[np.ndarray]] | None:
    """``(intercept, columns, values)`` when ``expression`` is a sum of plain numeric
    columns, 1, 0 and -1 (what most models' fixed parts, responses and random terms are),
    else None; ``values`` are the columns as float64.

    formulaic's matrix of such an expression is the intercept (unless ``0`` or ``-1``)
    followed by the columns in order of first appearance, each once, as float64.
    """
    tokens: list[str] = []
    pos = 0
    while pos < len(expression):
        match = _TOKEN.match(expression, pos)
        if match is None:
            return None
        tokens.append(match.group(1))
        pos = match.end()
    intercept = True
    columns: list[str] = []
    values: list[np.ndarray] = []
    sign = "+"
    expect_term = True
    for token in tokens:
        if token in "+-":
            if not expect_term:
                sign, expect_term = token, True
                continue
            if token == "-" and not columns and intercept and tokens[0] == "-":
                sign = "-"  # a leading minus
                continue
            return None
        if not expect_term:
            return None
        expect_term = False
        if token in ("0", "1"):
            intercept = (token == "1") == (sign == "+")
            continue
        if sign == "-" or token.isdigit() or token in ("True", "False", "None"):
            return None
        if token not in data.columns:
            return None
        column = data[token]
        dtype = column.dtype
        if not isinstance(dtype, np.dtype) or dtype.kind not in "if":
            return None
        array = column.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(array)):
            return None
        if token not in columns:
            columns.append(token)
            values.append(array)
    if expect_term:
        return None
    return intercept, columns, values


class _LazySpec:
    """formulaic's ModelSpec of a plain expression, built only when something asks for it
    (from a row of the data: the spec of numeric columns does not depend on their values)."""

    def __init__(self, expression: str, data: pd.DataFrame) -> None:
        self._expression = expression
        self._sample = data
        self._spec: Any = None

    def _built(self) -> Any:
        if self._spec is None:
            sample = self._sample.iloc[:1]
            self._spec = model_matrix(
                self._expression, sample, context=formula_context()
            ).model_spec
            self._sample = sample
        return self._spec

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_expression", "_sample", "_spec"):
            raise AttributeError(name)
        return getattr(self._built(), name)


def encode(expression: str, data: pd.DataFrame, where: str) -> tuple[np.ndarray, list[str], Any]:
    """Materialize a right-hand side: float64 matrix, column names and formulaic's
    ModelSpec (which encodes new data exactly like this data). A sum of plain numeric
    columns is built directly (the same matrix, names and spec, in a fraction of
    formulaic's time); everything else goes through formulaic."""
    data = readable(data)
    plain = _plain_columns(expression, data)
    if plain is not None:
        intercept, columns, arrays = plain
        parts = ([np.ones(len(data))] if intercept else []) + arrays
        values = np.column_stack(parts) if parts else np.zeros((len(data), 0))
        names = ([INTERCEPT] if intercept else []) + columns
        return np.ascontiguousarray(values), names, _LazySpec(expression, data)
    coded = ordered_as_polynomial(expression, data)
    try:
        matrix = model_matrix(coded, data, na_action="raise", context=formula_context())
    except Exception as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FormulaError(f"cannot build {where} {expression!r}: {message}") from None
    names = [r_contrast_name(intercept_name(str(c))) for c in matrix.columns]
    values = _numeric(matrix, names, f"{where} {expression!r}")
    return np.ascontiguousarray(values), names, matrix.model_spec


def _numeric(matrix: Any, names: list[str], where: str) -> np.ndarray:
    """The model matrix as float64 columns; a column that is not numbers (a quoted
    constant such as ``{'txt'}``) is refused by name."""
    try:
        values = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        frame = pd.DataFrame(matrix)
        bad = [
            name
            for name, column in zip(names, frame.columns, strict=False)
            if not pd.api.types.is_numeric_dtype(frame[column])
            and not pd.api.types.is_bool_dtype(frame[column])
        ]
        raise FormulaError(
            f"cannot build {where}: column(s) {', '.join(map(repr, bad)) or '?'} are not numbers"
        ) from None
    return values[:, None] if values.ndim == 1 else values


def encode_new(spec: Any, data: pd.DataFrame, where: str) -> np.ndarray:
    """Encode new data with a ModelSpec from :func:`encode`."""
    data = readable(data)
    try:
        matrix = spec.get_model_matrix(data, na_action="raise", context=formula_context())
    except Exception as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise FormulaError(f"cannot encode the new data for {where}: {message}") from None
    return _numeric(matrix, [str(c) for c in matrix.columns], f"the new data for {where}")


def design_matrix(expression: str, data: pd.DataFrame, where: str) -> tuple[np.ndarray, list[str]]:
    """Materialize a right-hand side as a float64 matrix with its column names."""
    values, names, _ = encode(expression, data, where)
    return values, names
