"""The levels pass: one pass over the partitions for the rows kept, the levels of every
grouping factor and categorical column, and the response's sum.

Each partition gives a small :class:`LevelsSummary`; summaries are merged in partition
order (a tree reduction), so levels keep their order of first appearance, as in memory.
A column with more distinct values than the client could hold stops being collected (only
its count travels on), so the error comes before anything large reaches the client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels.daskfit.plan import ModelPlan
from mixedmodels.design.materialize import encode
from mixedmodels.design.response import read_response
from mixedmodels.errors import DataError

__all__ = [
    "ColumnLevels",
    "LevelsSummary",
    "combine_summaries",
    "kept_rows",
    "ordered_levels",
    "summarize_partition",
]


@dataclass(frozen=True)
class ColumnLevels:
    """The distinct values of one column.

    Attributes
    ----------
    values : numpy.ndarray or None
        In order of first appearance; None once there are more than the cap.
    count : int
        Number of distinct values (a lower bound when ``values`` is None).
    categories : tuple or None
        A categorical column's categories (the union over partitions, in order).
    """

    values: np.ndarray | None
    count: int
    categories: tuple[Any, ...] | None


@dataclass(frozen=True)
class LevelsSummary:
    """What the levels pass found in one or more partitions."""

    n_input: int
    n_kept: int
    non_missing: dict[str, int]
    response_sum: float
    columns: dict[str, ColumnLevels]
    combinations: dict[tuple[str, ...], pd.DataFrame | None]
    combination_counts: dict[tuple[str, ...], int]
    example: pd.DataFrame | None
    """The first kept row (its numeric values build the encodings)."""


def kept_rows(
    part: pd.DataFrame, needed: tuple[str, ...]
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """The model's columns, the mask of rows without a missing value, and those rows."""
    used = part[list(needed)]
    keep = np.asarray(~used.isna().to_numpy().any(axis=1), dtype=bool)
    kept: pd.DataFrame = used if keep.all() else used.loc[keep]
    return used, keep, kept


def _check_finite(kept: pd.DataFrame, number: int) -> None:
    for column in kept.columns:
        values = kept[column]
        if values.dtype.kind == "f":
            bad = ~np.isfinite(values.to_numpy())
            if bad.any():
                raise DataError(
                    f"column {column!r} has {int(bad.sum())} infinite value(s) in partition "
                    f"{number} of the Dask DataFrame (first at row "
                    f"{kept.index[int(np.flatnonzero(bad)[0])]!r}); replace or drop them "
                    "before fitting"
                )


def _offset(plan: ModelPlan, kept: pd.DataFrame) -> np.ndarray | None:
    off = None
    for expr in plan.parsed.offsets:
        values = encode(f"0 + {expr}", kept, "offset()")[0][:, 0]
        off = values if off is None else off + values
    if plan.offset_column is not None:
        extra = kept[plan.offset_column].to_numpy(dtype=np.float64)
        off = extra if off is None else off + extra
    return off


def _column_levels(
    plan: ModelPlan, kept: pd.DataFrame, column: str, number: int, cap: int
) -> ColumnLevels:
    series = kept[column]
    categories = None
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = tuple(series.cat.categories)
        values = np.asarray(series.cat.remove_unused_categories().cat.categories, dtype=object)
        declared = plan.categories.get(column)
        if declared is not None:
            unknown = [v for v in values if v not in set(declared)]
            if unknown:
                raise DataError(
                    f"partition {number} of the Dask DataFrame has the category "
                    f"{unknown[0]!r} in column {column!r} ({plan.needed[column]}), which is "
                    f"not among the column's declared categories ({len(declared)}: "
                    f"{', '.join(repr(c) for c in declared[:5])}"
                    f"{', ...' if len(declared) > 5 else ''}). Declare every category "
                    "(e.g. ddf[column].cat.set_categories(...)) or clear them "
                    "(ddf[column].cat.as_unknown()) so the levels are read from the data."
                )
    else:
        values = pd.unique(np.asarray(series))
    if len(values) > cap:
        return ColumnLevels(None, len(values), categories)
    return ColumnLevels(values, len(values), categories)


def summarize_partition(
    part: pd.DataFrame, plan: ModelPlan, number: int, cap: int
) -> LevelsSummary:
    """The levels pass over one partition (numbered from 0, for messages)."""
    needed = tuple(plan.needed)
    used, keep, kept = kept_rows(part, needed)
    non_missing = {str(c): int(v) for c, v in used.notna().sum().items()}
    _check_finite(kept, number)
    response_sum = 0.0
    if len(kept):
        if plan.weight_column is not None:
            w = kept[plan.weight_column].to_numpy(dtype=np.float64)
            if (w < 0).any():
                raise DataError(
                    f"weights must be non-negative; found {w[w < 0][0]!r} in partition {number}"
                )
        y, _ = read_response(plan.parsed.response, kept, "numeric")
        off = _offset(plan, kept)
        response_sum = float(np.sum(y if off is None else y - off))
    columns = {c: _column_levels(plan, kept, c, number, cap) for c in plan.level_columns}
    combinations: dict[tuple[str, ...], pd.DataFrame | None] = {}
    counts: dict[tuple[str, ...], int] = {}
    for factor in plan.factors:
        if len(factor) > 1:
            combos = kept[list(factor)].drop_duplicates().reset_index(drop=True)
            combinations[factor] = combos if len(combos) <= cap else None
            counts[factor] = len(combos)
    return LevelsSummary(
        n_input=len(part),
        n_kept=len(kept),
        non_missing=non_missing,
        response_sum=response_sum,
        columns=columns,
        combinations=combinations,
        combination_counts=counts,
        example=kept.iloc[:1] if len(kept) else None,
    )


def _merge_columns(a: ColumnLevels, b: ColumnLevels, cap: int) -> ColumnLevels:
    categories = None
    if a.categories is not None or b.categories is not None:
        categories = tuple(dict.fromkeys((a.categories or ()) + (b.categories or ())))
    if a.values is None or b.values is None:
        return ColumnLevels(None, max(a.count, b.count), categories)
    values = pd.unique(np.concatenate([a.values, b.values]))
    if len(values) > cap:
        return ColumnLevels(None, len(values), categories)
    return ColumnLevels(values, len(values), categories)


def combine_summaries(parts: list[LevelsSummary], cap: int) -> LevelsSummary:
    """Merge the summaries of consecutive partitions, in order."""
    out = parts[0]
    for b in parts[1:]:
        a = out
        combinations: dict[tuple[str, ...], pd.DataFrame | None] = {}
        counts: dict[tuple[str, ...], int] = {}
        for factor, left in a.combinations.items():
            right = b.combinations[factor]
            if left is None or right is None:
                combinations[factor] = None
                counts[factor] = max(a.combination_counts[factor], b.combination_counts[factor])
                continue
            merged = pd.concat([left, right], ignore_index=True).drop_duplicates()
            combinations[factor] = merged.reset_index(drop=True) if len(merged) <= cap else None
            counts[factor] = len(merged)
        out = LevelsSummary(
            n_input=a.n_input + b.n_input,
            n_kept=a.n_kept + b.n_kept,
            non_missing={c: a.non_missing[c] + b.non_missing[c] for c in a.non_missing},
            response_sum=a.response_sum + b.response_sum,
            columns={c: _merge_columns(a.columns[c], b.columns[c], cap) for c in a.columns},
            combinations=combinations,
            combination_counts=counts,
            example=a.example if a.example is not None else b.example,
        )
    return out


def ordered_levels(plan: ModelPlan, column: str, found: ColumnLevels) -> np.ndarray:
    """A column's levels in the order the in-memory fit gives them: a categorical's own
    order (declared categories, else their union over partitions), else sorted values
    (order of first appearance when the values do not sort together)."""
    assert found.values is not None
    if found.categories is not None:
        declared = plan.categories.get(column)
        categories = declared if declared is not None else found.categories
        present = set(found.values.tolist())
        return np.asarray([c for c in categories if c in present], dtype=object)
    values: np.ndarray = found.values
    try:
        order = np.argsort(values, kind="stable")
    except TypeError:
        return values
    out: np.ndarray = values[order]
    return out
