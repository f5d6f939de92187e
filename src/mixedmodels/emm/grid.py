"""The reference grid of a fit: every combination of the fixed part's factors' levels, each
numeric covariate at its mean (or at the values given), and for each combination its row of
the fixed-effects matrix and its count in the data.

Marginal means average the grid's predictions over the variables not asked for, with
weights (emmeans' ``weights``; Searle, Speed & Milliken 1980 for the idea):

- ``"equal"``: each combination alike (the default);
- ``"proportional"``: by the combination's frequency in the data;
- ``"outer"``: by the product of each averaged factor's own frequencies;
- ``"cells"``: by the frequency of the whole cell (so the means are those of the data's
  predictions);
- ``"flat"``: alike among the cells that hold data, none for empty cells.

A numeric column with at most two distinct values is kept at those values, as a factor
(emmeans' ``cov.keep = 2``), and so is a numeric column the formula reads as a factor
(``factor(x)``, ``C(x)``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg

from mixedmodels._data import unknown_column_error
from mixedmodels.design.frame import ModelFrame
from mixedmodels.design.materialize import encode_new, required_columns
from mixedmodels.design.namespace import user_functions
from mixedmodels.errors import ModelSpecError

__all__ = ["MAX_GRID_CELLS", "WEIGHTS", "GridVariable", "ReferenceGrid", "reference_grid"]

#: The largest reference grid built.
MAX_GRID_CELLS = 1_000_000

#: The averaging weights :meth:`ReferenceGrid.average` takes.
WEIGHTS = ("equal", "proportional", "outer", "cells", "flat")


@dataclass(frozen=True)
class GridVariable:
    """One variable of the grid: its values and whether it is a factor."""

    name: str
    values: tuple[Any, ...]
    labels: tuple[str, ...]
    is_factor: bool


def _label(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.15g}"
    return str(value)


def _factor_wrapped(fixed: str) -> set[str]:
    """Numeric columns the formula turns into factors: ``factor(x)``, ``C(x, ...)``,
    ``as.factor(x)``."""
    return set(re.findall(r"(?:\bfactor|\bas\.factor|\bC)\(\s*([A-Za-z_.][A-Za-z0-9_.]*)", fixed))


def _levels(column: pd.Series) -> list[Any]:
    """The levels formulaic encodes, in its order: a categorical's categories present in
    the data, booleans False then True, else the sorted distinct values."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        present = set(column.dropna().unique())
        return [c for c in column.cat.categories if c in present]
    if pd.api.types.is_bool_dtype(column.dtype):
        return [v for v in (False, True) if (column == v).any()]
    values = pd.unique(column.dropna())
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def grid_variables(frame: ModelFrame, at: Mapping[str, Any] | None) -> list[GridVariable]:
    """The grid's variables: the columns the fixed part and offsets read."""
    columns: list[str] = []
    with user_functions(frame.functions):
        for expression in (frame.formula.fixed, *frame.formula.offsets):
            for name in sorted(required_columns(expression, "the fixed part")):
                if name not in columns:
                    columns.append(name)
    if frame.offset_column is not None and frame.offset_column not in columns:
        columns.append(frame.offset_column)
    at = dict(at or {})
    for name in at:
        if name not in columns:
            raise ModelSpecError(
                f"at= names {name!r}, which is not a variable of the fixed part "
                f"({', '.join(columns) or 'none'})"
            )
    wrapped = _factor_wrapped(frame.formula.fixed)
    data = frame.data
    out = []
    for name in columns:
        column = data[name]
        numeric = column.dtype.kind in "iuf" and not isinstance(column.dtype, pd.CategoricalDtype)
        levels = _levels(column)
        is_factor = not numeric or name in wrapped or len(levels) <= 2
        if name in at:
            given = np.atleast_1d(np.asarray(at[name], dtype=object)).tolist()
            if not given:
                raise ModelSpecError(f"at= gives no values for {name!r}")
            if is_factor and not numeric:
                unknown = [v for v in given if v not in levels]
                if unknown:
                    raise ModelSpecError(
                        f"at= gives {name!r} the value(s) {unknown!r}, which are not among "
                        f"its levels {levels!r}"
                    )
            elif numeric:
                try:
                    given = [float(v) for v in given]
                except (TypeError, ValueError):
                    raise ModelSpecError(
                        f"at= gives the numeric variable {name!r} values that are not numbers: "
                        f"{given!r}"
                    ) from None
            values = given
        elif is_factor:
            values = levels
        else:
            values = [float(np.mean(column.to_numpy(dtype=np.float64)))]
        out.append(GridVariable(name, tuple(values), tuple(_label(v) for v in values), is_factor))
    return out


@dataclass(frozen=True, eq=False)
class ReferenceGrid:
    """The grid: its variables, its cells (the first variable varying fastest), each cell's
    row of the fixed-effects matrix, offset, count in the data and estimability.

    Attributes
    ----------
    variables : tuple of GridVariable
    cells : pandas.DataFrame
        One row per combination, the variables' values.
    X : numpy.ndarray
        ``(n_cells, p)``: the fixed-effects rows (the fit's columns, aliased ones dropped).
    offset : numpy.ndarray
        ``(n_cells,)``: the offset at each cell (0 without one).
    counts : numpy.ndarray
        ``(n_cells,)``: how many rows of the data share the cell's factor levels.
    estimable : numpy.ndarray
        ``(n_cells,)`` booleans: the cell's row lies in the row space of the data's full
        fixed-effects matrix (always, unless columns were aliased).
    """

    variables: tuple[GridVariable, ...]
    cells: pd.DataFrame
    X: np.ndarray
    offset: np.ndarray
    counts: np.ndarray
    estimable: np.ndarray

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.variables)

    def variable(self, name: str) -> GridVariable:
        for v in self.variables:
            if v.name == name:
                return v
        raise ModelSpecError(
            f"{name!r} is not a variable of the model's fixed part; the reference grid has "
            f"{', '.join(self.names) or 'no variables (an intercept-only model)'}"
        )

    def average(
        self, keep: Sequence[str], weights: str = "equal"
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
        """The grid averaged over the variables not in ``keep``.

        Returns
        -------
        groups : pandas.DataFrame
            One row per combination of ``keep``'s variables (the first fastest), their
            labels.
        L : numpy.ndarray
            ``(n_groups, p)``: each group's averaged fixed-effects row.
        offset : numpy.ndarray
        estimable : numpy.ndarray
            Booleans; False also where the weights are all zero (``"cells"`` or
            ``"flat"`` on an empty combination).
        """
        if weights not in WEIGHTS:
            raise ModelSpecError(f"weights must be one of {', '.join(WEIGHTS)}, not {weights!r}")
        for name in keep:
            self.variable(name)
        other = [v.name for v in self.variables if v.name not in keep]
        codes = {v.name: self.cells[v.name + "\x00code"].to_numpy() for v in self.variables}
        cell_weight = self._weights(other, codes, weights)
        sizes = [len(self.variable(n).values) for n in keep]
        group = np.zeros(len(self.cells), dtype=np.int64)
        stride = 1
        for name, size in zip(keep, sizes, strict=True):
            group += codes[name] * stride
            stride *= size
        n_groups = stride
        totals = np.bincount(group, weights=cell_weight, minlength=n_groups)
        share = np.divide(
            cell_weight, totals[group], out=np.zeros_like(cell_weight), where=totals[group] > 0
        )
        L = np.zeros((n_groups, self.X.shape[1]))
        np.add.at(L, group, share[:, None] * self.X)
        offset = np.bincount(group, weights=share * self.offset, minlength=n_groups)
        bad = np.bincount(group, weights=(share > 0) & ~self.estimable, minlength=n_groups)
        estimable = (totals > 0) & (bad == 0)
        combos = _combinations([list(self.variable(n).labels) for n in keep])
        groups = pd.DataFrame(combos, columns=list(keep)) if keep else pd.DataFrame(index=[0])
        return groups, L, offset, estimable

    def _weights(self, other: list[str], codes: dict[str, np.ndarray], weights: str) -> np.ndarray:
        n = len(self.cells)
        if weights == "equal":
            return np.ones(n)
        if weights == "cells":
            return self.counts.astype(np.float64)
        if weights == "flat":
            return (self.counts > 0).astype(np.float64)
        factors = [v for v in self.variables if v.name in other and v.is_factor]
        if weights == "outer":
            out = np.ones(n)
            for v in factors:
                out *= self._margins([v.name], codes)
            return out
        return self._margins([v.name for v in factors], codes)

    def _margins(self, names: list[str], codes: dict[str, np.ndarray]) -> np.ndarray:
        """Per cell: the data's count of the cell's levels of ``names`` alone."""
        if not names:
            return np.ones(len(self.cells))
        factor_names = [v.name for v in self.variables if v.is_factor]
        # counts per cell of all factors, summed over the factors not in names, once per
        # distinct combination of all factors (numeric variables repeat the cells)
        key_all = _key(codes, factor_names)
        key_names = _key(codes, names)
        _, first = np.unique(key_all, return_index=True)
        total: dict[int, float] = {}
        for i in first:
            total[int(key_names[i])] = total.get(int(key_names[i]), 0.0) + float(self.counts[i])
        return np.array([total[int(k)] for k in key_names])


def _key(codes: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    key = np.zeros(len(next(iter(codes.values()))), dtype=np.int64)
    for name in names:
        key = key * (int(codes[name].max()) + 1) + codes[name]
    return key


def _combinations(values: list[list[Any]]) -> list[tuple[Any, ...]]:
    """Every combination, the first list varying fastest (R's ``expand.grid``)."""
    return [tuple(reversed(c)) for c in itertools.product(*reversed(values))]


def _column_values(frame: ModelFrame, variable: GridVariable, positions: np.ndarray) -> Any:
    values = [variable.values[i] for i in positions]
    original = frame.data[variable.name]
    if isinstance(original.dtype, pd.CategoricalDtype):
        return pd.Categorical(values, dtype=original.dtype)
    if pd.api.types.is_bool_dtype(original.dtype):
        return np.array(values, dtype=bool)
    if original.dtype.kind in "iuf":
        return np.array(values, dtype=np.float64)
    return np.array(values, dtype=object)


def reference_grid(frame: ModelFrame, at: Mapping[str, Any] | None = None) -> ReferenceGrid:
    """The reference grid of a fit's frame (which must hold its rows)."""
    if frame.fixed_encoding is None:
        raise ModelSpecError("this fit keeps no encoding of its fixed part to build a grid from")
    variables = grid_variables(frame, at)
    sizes = [len(v.values) for v in variables]
    n_cells = int(np.prod(sizes, dtype=np.float64)) if sizes else 1
    if n_cells > MAX_GRID_CELLS:
        shown = ", ".join(f"{v.name} ({len(v.values)})" for v in variables)
        raise ModelSpecError(
            f"the reference grid would have {n_cells:,} cells ({shown}); the limit is "
            f"{MAX_GRID_CELLS:,}: give fewer values with at="
        )
    positions = np.array(_combinations([list(range(s)) for s in sizes]), dtype=np.int64)
    positions = positions.reshape(n_cells, len(variables))
    columns = {v.name: _column_values(frame, v, positions[:, j]) for j, v in enumerate(variables)}
    cells = pd.DataFrame(columns, index=pd.RangeIndex(n_cells))
    with user_functions(frame.functions):
        full = encode_new(frame.fixed_encoding, cells, "the reference grid")
        offset = np.zeros(n_cells)
        for encoding in frame.offset_encodings:
            offset = offset + encode_new(encoding, cells, "offset()")[:, 0]
    if frame.offset_column is not None:
        offset = offset + cells[frame.offset_column].to_numpy(dtype=np.float64)
    X = full[:, list(frame.kept_columns)]
    estimable = np.ones(n_cells, dtype=bool)
    if frame.aliased:
        with user_functions(frame.functions):
            data_full = encode_new(frame.fixed_encoding, frame.data, "the fixed part")
        null = scipy.linalg.null_space(data_full)
        scale = max(1.0, float(np.abs(full).max()))
        estimable = np.abs(full @ null).max(axis=1) <= 1e-8 * scale
    counts = _cell_counts(frame, variables, positions)
    for j, v in enumerate(variables):
        cells[v.name + "\x00code"] = positions[:, j]
    return ReferenceGrid(tuple(variables), cells, X, offset, counts, estimable)


def _cell_counts(
    frame: ModelFrame, variables: list[GridVariable], positions: np.ndarray
) -> np.ndarray:
    """Per cell, the data's rows at the cell's factor levels (numeric variables ignored)."""
    factors = [(j, v) for j, v in enumerate(variables) if v.is_factor]
    if not factors:
        return np.full(len(positions), frame.nobs, dtype=np.int64)
    data = frame.data
    code_columns = []
    for _, v in factors:
        lookup = {value: i for i, value in enumerate(v.values)}
        column = data[v.name].to_numpy(dtype=object)
        code_columns.append(np.array([lookup.get(value, -1) for value in column]))
    codes = np.stack(code_columns, axis=1)
    sizes = [len(v.values) for _, v in factors]
    inside = (codes >= 0).all(axis=1)
    data_keys = np.ravel_multi_index(tuple(codes[inside].T), sizes)
    counts = np.bincount(data_keys, minlength=int(np.prod(sizes)))
    cell_keys = np.ravel_multi_index(tuple(positions[:, [j for j, _ in factors]].T), sizes)
    return np.asarray(counts[cell_keys], dtype=np.int64)


def unknown_grid_column(name: str, grid: ReferenceGrid) -> Exception:
    """The error for a spec naming a column the grid does not have."""
    return unknown_column_error(name, list(grid.names), "the reference grid")
