"""Designs with more or fewer levels of a grouping factor: the data a power curve fits at
each of its points (simr's ``extend`` and ``powerCurve`` idea, written here).

With ``k`` levels of ``along`` asked for and ``L`` in the data, the first ``k`` levels (in
the order they first appear) are kept when ``k <= L``; otherwise the rows of the ``L``
levels are copied, each copy under new labels, until there are ``k``. Grouping factors
nested in ``along`` (each of their levels seen with one level of ``along`` only, as
classes within schools) get new labels in each copy too; crossed ones (items every
subject sees) keep theirs, so the copies share them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from mixedmodels.errors import ModelSpecError

__all__ = ["MAX_ROWS", "data_along", "nested_in"]

#: The largest design a power curve builds: beyond it the refits of one point alone take
#: minutes, and the simulated responses gigabytes.
MAX_ROWS = 5_000_000


def nested_in(data: pd.DataFrame, along: str, grouping: Sequence[str]) -> tuple[str, ...]:
    """The grouping columns whose every level occurs with a single level of ``along``."""
    out = []
    for name in grouping:
        if name == along or name not in data.columns:
            continue
        per_level = data.groupby(data[name], observed=True, sort=False)[along].nunique()
        if len(per_level) and bool((per_level == 1).all()):
            out.append(name)
    return tuple(out)


def _labels(column: pd.Series) -> pd.Series:
    """A grouping column as text, so that copies can carry new labels."""
    return column.astype(str).astype(object)


def data_along(
    data: pd.DataFrame, along: str, n_levels: int, nested: Sequence[str] = ()
) -> pd.DataFrame:
    """The rows of ``data`` for ``n_levels`` levels of ``along`` (see the module text).

    Raises
    ------
    ModelSpecError
        If ``n_levels`` is not a whole number of at least 2, or the design would exceed
        :data:`MAX_ROWS` rows.
    """
    if isinstance(n_levels, bool) or not isinstance(n_levels, (int, np.integer)):
        raise ModelSpecError(f"levels of {along!r} must be whole numbers, not {n_levels!r}")
    if n_levels < 2:
        raise ModelSpecError(f"a design needs at least 2 levels of {along!r}, not {n_levels}")
    codes, uniques = pd.factorize(data[along], sort=False)
    present = len(uniques)
    if n_levels <= present:
        return data.loc[codes < n_levels].reset_index(drop=True)
    rows_per_copy = len(data)
    copies = -(-n_levels // present)
    last = n_levels - (copies - 1) * present
    total = rows_per_copy * (copies - 1) + int(np.sum(codes < last))
    if total > MAX_ROWS:
        raise ModelSpecError(
            f"{n_levels} levels of {along!r} make a design of {total:,} rows (more than "
            f"{MAX_ROWS:,}); ask for fewer levels"
        )
    relabelled = (along, *nested)
    parts = []
    for copy in range(copies):
        keep = min(present, n_levels - copy * present)
        part = data.loc[codes < keep].copy()
        for name in relabelled:
            text = _labels(part[name])
            part[name] = text if copy == 0 else text + f"~{copy}"
        parts.append(part)
    return pd.concat(parts, ignore_index=True)
