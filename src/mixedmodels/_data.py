"""Turn what users pass as data (pandas, polars, a dict of arrays) into a pandas DataFrame."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels.errors import DataError, FormulaError

__all__ = ["as_dataframe", "is_dask_dataframe", "shared_in_graph", "unknown_column_error"]


def is_dask_dataframe(data: Any) -> bool:
    """True for a Dask DataFrame (checked by module name, so dask is never imported here:
    the core install does not need it)."""
    module = type(data).__module__
    return module.split(".")[0] in ("dask", "dask_expr") and hasattr(data, "map_partitions")


def shared_in_graph(value: Any) -> Any:
    """One copy of ``value`` in a Dask task graph, shared by every partition's task."""
    from uuid import uuid4

    from dask import delayed

    return delayed(value, name=f"mixedmodels-{type(value).__name__}-{uuid4().hex}")


def as_dataframe(data: Any) -> pd.DataFrame:
    """Return ``data`` as a pandas DataFrame without copying more than needed.

    Accepts a pandas DataFrame, a polars DataFrame (or LazyFrame) or a mapping of
    column names to equal-length arrays.
    """
    if isinstance(data, pd.DataFrame):
        _check_column_names(data)
        return data
    module = type(data).__module__
    if module.startswith("polars"):
        if hasattr(data, "collect") and not hasattr(data, "to_pandas"):
            data = data.collect()
        return data.to_pandas()  # type: ignore[no-any-return]
    if isinstance(data, Mapping):
        for key, value in data.items():
            shape = np.shape(value)
            if len(shape) != 1:
                raise DataError(
                    f"the data dict's column {str(key)!r} has shape {shape}: each column must "
                    "be one value per row (a 1-D array or list)"
                )
        lengths = {str(k): len(v) for k, v in data.items()}
        if len(set(lengths.values())) > 1:
            raise DataError(f"the columns of the data dict differ in length: {lengths}")
        return pd.DataFrame(
            {str(k): np.asarray(v) if not isinstance(v, pd.Series) else v for k, v in data.items()}
        )
    if is_dask_dataframe(data):
        raise DataError(
            "this function needs the rows in memory and does not take a Dask DataFrame: "
            "mm.lmm fits one directly; elsewhere pass ddf.compute() (or a sample of it)"
        )
    raise DataError(
        f"data of type {type(data).__name__} is not supported: pass a pandas or polars "
        "DataFrame, a dict of equal-length arrays, or (for mm.lmm) a Dask DataFrame"
    )


def _check_column_names(data: pd.DataFrame) -> None:
    """Refuse a frame with two columns of one name: which one a formula reads is
    ambiguous."""
    names = [str(c) for c in data.columns]
    if len(set(names)) != len(names):
        repeated = sorted({n for n in names if names.count(n) > 1})
        raise DataError(
            f"the data has more than one column named {', '.join(repr(n) for n in repeated)}; "
            "rename them so that each name is one column"
        )


def unknown_column_error(name: str, columns: Iterable[str], where: str) -> FormulaError:
    """A :class:`FormulaError` for a column the data does not have, with close matches."""
    columns = [str(c) for c in columns]
    close = difflib.get_close_matches(name, columns, n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    shown = ", ".join(columns[:12]) + (", ..." if len(columns) > 12 else "")
    return FormulaError(
        f"{where} uses the column {name!r}, which is not in the data (columns: {shown}){hint}"
    )
