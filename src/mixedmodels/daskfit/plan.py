"""What a fit reads from a Dask DataFrame, decided from its columns and dtypes alone."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from mixedmodels._data import unknown_column_error
from mixedmodels.design.frame import needed_columns
from mixedmodels.design.materialize import required_columns
from mixedmodels.errors import DataError, FormulaError
from mixedmodels.formula import MixedFormula, parse_formula

__all__ = ["ModelPlan", "plan_model"]


@dataclass(frozen=True)
class ModelPlan:
    """The columns of a model and how each is read.

    Attributes
    ----------
    parsed : MixedFormula
    needed : dict
        Every column the model reads, with the part of the model that reads it; a row
        with a missing value in any of them is dropped, as in memory.
    weight_column, offset_column : str or None
    level_columns : tuple of str
        Columns whose distinct values the levels pass collects: the grouping factors, and
        every column the formula encodes as categorical (not numeric, or inside ``C()``).
    encoded_columns : tuple of str
        Those of ``level_columns`` that formulaic encodes (the fixed part, offsets and the
        left-hand sides of the random terms), whose levels fix the model matrix columns.
    factors : tuple of tuple of str
        The columns of each distinct grouping factor (two or more: an interaction).
    categories : dict
        For columns of pandas' categorical dtype: the declared categories when Dask knows
        them (then their order is the level order, as in memory), else None.
    dtypes : dict
        The columns' dtypes as Dask declares them.
    """

    parsed: MixedFormula
    needed: dict[str, str]
    weight_column: str | None
    offset_column: str | None
    level_columns: tuple[str, ...]
    encoded_columns: tuple[str, ...]
    factors: tuple[tuple[str, ...], ...]
    categories: dict[str, tuple[Any, ...] | None]
    dtypes: dict[str, Any]


def _column_argument(value: Any, columns: list[str], what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise DataError(
            f"with a Dask DataFrame, {what}= must be the name of one of its columns (an "
            "array cannot be aligned with the partitions); add it as a column first"
        )
    if value not in columns:
        raise unknown_column_error(value, columns, f"{what}=")
    return value


def _inside_categorical(expression: str) -> set[str]:
    """Columns that formulaic encodes as categorical because of ``C(...)``."""
    from formulaic import Formula

    out: set[str] = set()
    try:
        terms = list(Formula(expression))
    except Exception:  # reported with the column checks and by the encoding
        return out
    for term in terms:
        for factor in term.factors:
            if str(factor.expr).replace(" ", "").startswith("C("):
                out |= {str(v) for v in Formula(str(factor.expr)).required_variables}
    return out


def plan_model(formula: str, ddf: Any, weights: Any, offset: Any) -> ModelPlan:
    """Read the formula against the Dask DataFrame's columns (no pass over the data).

    Raises
    ------
    FormulaError
        A column the formula, ``weights=`` or ``offset=`` names is not in the frame.
    DataError
        ``weights=`` or ``offset=`` given as an array.
    """
    parsed = parse_formula(formula)
    if not parsed.random:
        raise FormulaError(
            f"formula {parsed.text!r} has no random-effects term such as (1 | group); "
            "for a model without one use ordinary least squares"
        )
    if parsed.response.strip().startswith("cbind("):
        raise FormulaError(
            f"the response {parsed.response!r} is a cbind(successes, failures) pair, which "
            "only a binomial model reads; GLMMs are not fitted on Dask data"
        )
    columns = [str(c) for c in ddf.columns]
    weight_column = _column_argument(weights, columns, "weights")
    offset_column = _column_argument(offset, columns, "offset")
    needed = needed_columns(parsed, "numeric", weight_column, offset_column)
    for name, where in needed.items():
        if name not in columns:
            raise unknown_column_error(name, columns, f"{where} (in the Dask DataFrame)")
    dtypes = {name: ddf.dtypes[name] for name in needed}
    encoded: set[str] = set()
    expressions = [parsed.fixed, *parsed.offsets, *(s.lhs for s in parsed.random)]
    for expression in expressions:
        encoded |= _inside_categorical(expression)
        for name in required_columns(expression, "the formula"):
            kind = getattr(dtypes[name], "kind", "O")
            if isinstance(dtypes[name], pd.CategoricalDtype) or kind not in "iuf":
                encoded.add(name)
    factors = tuple(dict.fromkeys(tuple(s.factors) for s in parsed.random))
    grouping = [c for f in factors for c in f]
    encoded_columns = tuple(c for c in needed if c in encoded)
    level_columns = tuple(dict.fromkeys([*grouping, *encoded_columns]))
    categories: dict[str, tuple[Any, ...] | None] = {}
    for name in level_columns:
        dtype = dtypes[name]
        if isinstance(dtype, pd.CategoricalDtype):
            known = bool(ddf[name].cat.known)
            categories[name] = tuple(dtype.categories) if known else None
    return ModelPlan(
        parsed=parsed,
        needed=needed,
        weight_column=weight_column,
        offset_column=offset_column,
        level_columns=level_columns,
        encoded_columns=encoded_columns,
        factors=factors,
        categories=categories,
        dtypes=dtypes,
    )
