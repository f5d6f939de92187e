"""Encode every partition exactly as the whole frame would be encoded in memory.

formulaic learns a categorical column's levels from the data it sees; a partition sees
only some of them. So the encodings (formulaic's ModelSpecs) are built once, on the
client, from a small prototype frame holding every level the levels pass found, and each
partition is then encoded with them. Grouping factors get their codes from the levels in
the in-memory order, so theta and the ``ranef`` rows come out the same.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels.daskfit.levels import LevelsSummary, kept_rows, ordered_levels
from mixedmodels.daskfit.plan import ModelPlan
from mixedmodels.design.crossproducts import ZTerm
from mixedmodels.design.frame import RandomEffectsTerm
from mixedmodels.design.grouping import GroupingFactor, radix_digits
from mixedmodels.design.materialize import encode, encode_new
from mixedmodels.design.response import read_response
from mixedmodels.errors import DataError, FormulaError

__all__ = [
    "BlockEncoder",
    "FactorLookup",
    "PartitionRows",
    "RowEncoder",
    "check_stateless",
    "encode_partition",
    "factor_lookups",
    "prototype_frame",
    "random_terms",
]


@dataclass(frozen=True)
class FactorLookup:
    """Level codes of one grouping factor, in the in-memory order.

    Attributes
    ----------
    name : str
    columns : tuple of str
    levels : tuple of pandas.Index
        Each column's levels, in order.
    combinations : numpy.ndarray or None
        For an interaction: the sorted mixed-radix codes of the level combinations present.
    labels : tuple of str
        The factor's level labels (``"a:b"`` for an interaction).
    """

    name: str
    columns: tuple[str, ...]
    levels: tuple[pd.Index, ...]
    combinations: np.ndarray | None
    labels: tuple[str, ...]

    def codes(self, kept: pd.DataFrame, number: int, where: str) -> np.ndarray:
        """Each row's level code; a value the levels pass did not see is an error."""
        parts = []
        for column, index in zip(self.columns, self.levels, strict=True):
            code = index.get_indexer(kept[column])  # type: ignore[arg-type]
            _check_known(code, kept[column], column, number, where)
            parts.append(code.astype(np.int64))
        if self.combinations is None:
            return parts[0].astype(np.int32)
        combined = _mixed_radix(parts, [len(i) for i in self.levels])
        position = np.minimum(
            np.searchsorted(self.combinations, combined), len(self.combinations) - 1
        )
        unseen = self.combinations[position] != combined
        if unseen.any():
            row = int(np.flatnonzero(unseen)[0])
            shown = ":".join(str(kept[c].iloc[row]) for c in self.columns)
            raise DataError(
                f"partition {number} of the Dask DataFrame has the level {shown!r} of "
                f"{self.name!r} ({where}), which the levels pass did not find: the data "
                "changed between the two passes over it. Make it fixed while fitting (e.g. "
                "ddf.persist(), or files that do not change) and fit again."
            )
        return position.astype(np.int32)


def _mixed_radix(parts: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    combined = parts[0]
    for more, size in zip(parts[1:], sizes[1:], strict=True):
        combined = combined * size + more
    return combined


def _check_known(code: np.ndarray, values: pd.Series, column: str, number: int, where: str) -> None:
    bad = code < 0
    if bad.any():
        raise DataError(
            f"partition {number} of the Dask DataFrame has the value "
            f"{values.iloc[int(np.flatnonzero(bad)[0])]!r} in column {column!r} ({where}), which "
            "the levels pass did not find: the data changed between the two passes over it. "
            "Make it fixed while fitting (e.g. ddf.persist(), or files that do not change) "
            "and fit again."
        )


@dataclass(frozen=True)
class BlockEncoder:
    """One storage block of the covariance layout: its factor and its terms' encodings."""

    lookup: FactorLookup
    term_encodings: tuple[Any, ...]
    where: str

    @property
    def n_levels(self) -> int:
        """Number of levels of the factor."""
        return len(self.lookup.labels)


@dataclass(frozen=True)
class RowEncoder:
    """Everything a worker needs to turn a partition into the model's arrays (sent to the
    workers once; it holds levels and encodings, never rows)."""

    needed: tuple[str, ...]
    where: dict[str, str]
    response: str
    fixed: Any
    offset_encodings: tuple[Any, ...]
    offset_column: str | None
    weight_column: str | None
    encoded_levels: tuple[tuple[str, pd.Index], ...]
    """Each encoded column's levels (a value outside them is an error)."""
    as_categorical: tuple[tuple[str, pd.CategoricalDtype], ...]
    """Encoded text columns, given to formulaic as categoricals with all their levels."""
    blocks: tuple[BlockEncoder, ...]
    shift: float


@dataclass(frozen=True)
class PartitionRows:
    """One partition's rows as the model reads them (the kept rows only).

    Attributes
    ----------
    keep : numpy.ndarray
        Boolean mask of the partition's rows kept (no missing value).
    y, X, offset, weights : numpy.ndarray
        The response, the full fixed-effects matrix (before aliased columns are dropped),
        the offset and the prior weights (None when absent).
    zterms : list of ZTerm
        Level codes and model matrix of each storage block.
    """

    keep: np.ndarray
    y: np.ndarray
    X: np.ndarray
    offset: np.ndarray | None
    weights: np.ndarray | None
    zterms: list[ZTerm]


def _encode(spec: Any, kept: pd.DataFrame, where: str) -> np.ndarray:
    from formulaic.errors import DataMismatchWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", DataMismatchWarning)
        try:
            return encode_new(spec, kept, where)
        except DataMismatchWarning as exc:  # pragma: no cover - caught by the level checks
            raise DataError(f"{where}: {exc}") from None


def encode_partition(part: pd.DataFrame, enc: RowEncoder, number: int) -> PartitionRows:
    """The model's arrays for the kept rows of one partition (numbered from 0)."""
    _, keep, kept = kept_rows(part, enc.needed)
    n = len(kept)
    for column, index in enc.encoded_levels:
        column_values = kept[column]
        code = index.get_indexer(column_values)  # type: ignore[arg-type]
        _check_known(code, column_values, column, number, enc.where[column])
    if enc.as_categorical and n:
        kept = kept.assign(**{c: kept[c].astype(dtype) for c, dtype in enc.as_categorical})
    zterms = []
    for block in enc.blocks:
        codes = block.lookup.codes(kept, number, block.where)
        k = sum(_width(e) for e in block.term_encodings)
        if n:
            matrix = np.hstack([_encode(e, kept, block.where) for e in block.term_encodings])
        else:
            matrix = np.empty((0, k))
        zterms.append(ZTerm(codes, np.ascontiguousarray(matrix), block.n_levels))
    p = _width(enc.fixed)
    if n == 0:
        return PartitionRows(keep, np.empty(0), np.empty((0, p)), None, None, zterms)
    y, _ = read_response(enc.response, kept, "numeric")
    X = _encode(enc.fixed, kept, "the fixed part")
    off = None
    for spec in enc.offset_encodings:
        values = _encode(spec, kept, "offset()")[:, 0]
        off = values if off is None else off + values
    if enc.offset_column is not None:
        extra = kept[enc.offset_column].to_numpy(dtype=np.float64)
        off = extra if off is None else off + extra
    w = None
    if enc.weight_column is not None:
        w = kept[enc.weight_column].to_numpy(dtype=np.float64)
    return PartitionRows(keep, y, X, off, w, zterms)


def _width(spec: Any) -> int:
    return len(spec.column_names)


def is_text(dtype: Any) -> bool:
    """A text column (object or string dtype), which formulaic reads as categorical."""
    if isinstance(dtype, pd.CategoricalDtype):
        return False
    return bool(pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype))


def prototype_frame(plan: ModelPlan, summary: LevelsSummary) -> pd.DataFrame:
    """A small frame on which formulaic learns the encodings: the first kept row, repeated,
    with every level of each encoded column cycled through (text columns become
    categoricals with their sorted levels, as formulaic orders them)."""
    assert summary.example is not None
    levels = {c: ordered_levels(plan, c, summary.columns[c]) for c in plan.encoded_columns}
    size = max([1] + [len(v) for v in levels.values()])
    proto = summary.example.iloc[np.zeros(size, dtype=np.int64)].reset_index(drop=True)
    for column, values in levels.items():
        cycled = values[np.arange(size) % len(values)]
        dtype = proto[column].dtype
        if isinstance(dtype, pd.CategoricalDtype):
            found = summary.columns[column].categories or ()
            declared = plan.categories.get(column)
            categories = list(declared if declared is not None else found)
            proto[column] = pd.Categorical(cycled, categories=categories, ordered=dtype.ordered)
        elif is_text(plan.dtypes[column]):
            proto[column] = pd.Categorical(cycled, categories=list(values))
        else:
            proto[column] = pd.Series(cycled, dtype=dtype)
    return proto


def check_stateless(spec: Any, expression: str) -> None:
    """Refuse formulaic's stateful transforms, which learn from all rows at once."""
    state = getattr(spec, "transform_state", None)
    if state:
        names = ", ".join(sorted(str(k) for k in state))
        raise FormulaError(
            f"{expression!r} uses {names}, a transform that learns from all rows at once "
            "(scale(), center(), poly(), ...); a Dask fit sees one partition at a time. Add "
            "the transformed column to the Dask DataFrame (e.g. with ddf.assign) and use it "
            "in the formula."
        )


def factor_lookups(plan: ModelPlan, summary: LevelsSummary) -> dict[str, FactorLookup]:
    """The lookup of every grouping factor, by name (``"a:b"`` for an interaction)."""
    out: dict[str, FactorLookup] = {}
    for factor in plan.factors:
        name = ":".join(factor)
        ordered = [ordered_levels(plan, c, summary.columns[c]) for c in factor]
        index = tuple(pd.Index(v) for v in ordered)
        if len(factor) == 1:
            labels = tuple(str(v) for v in ordered[0])
            out[name] = FactorLookup(name, factor, index, None, labels)
            continue
        combos = summary.combinations[factor]
        assert combos is not None
        parts = [
            i.get_indexer(combos[c]).astype(np.int64) for c, i in zip(factor, index, strict=True)
        ]
        sizes = [len(i) for i in index]
        present = np.unique(_mixed_radix(parts, sizes))
        digits = radix_digits(present, sizes)
        labels = tuple(
            ":".join(str(v[i]) for v, i in zip(ordered, combo, strict=True))
            for combo in zip(*digits, strict=True)
        )
        out[name] = FactorLookup(name, factor, index, present, labels)
    return out


def random_terms(
    plan: ModelPlan, proto: pd.DataFrame, lookups: dict[str, FactorLookup]
) -> list[RandomEffectsTerm]:
    """The random-effects terms in formula order, without rows: levels and encodings."""
    terms = []
    for spec in plan.parsed.random:
        lookup = lookups[":".join(spec.factors)]
        factor = GroupingFactor(lookup.name, np.empty(0, dtype=np.int32), lookup.labels)
        matrix, cols, enc = encode(spec.lhs, proto, f"random term {spec.source}:")
        check_stateless(enc, spec.source)
        if matrix.shape[1] == 0:
            raise FormulaError(f"random term {spec.source!r} has no columns")
        empty = np.empty((0, matrix.shape[1]))
        terms.append(RandomEffectsTerm(spec, factor, empty, tuple(cols), factor.name, enc))
    return terms
