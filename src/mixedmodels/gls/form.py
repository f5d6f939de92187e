"""The ``form`` of a residual structure (nlme's ``"~ covariate | group"``) and the
columns it names."""

from __future__ import annotations

import pandas as pd

from mixedmodels.errors import DataError, ModelSpecError

__all__ = ["data_column", "parse_form"]


def parse_form(form: str, what: str) -> tuple[str | None, str | None]:
    """``"~ covariate | group"`` as (covariate or None for ``1``, group or None)."""
    text = str(form).strip()
    if not text.startswith("~"):
        raise ModelSpecError(
            f"{what}'s form must be a one-sided formula such as '~ 1 | g', not {form!r}"
        )
    body = text[1:]
    covariate, _, group = body.partition("|")
    covariate, group = covariate.strip(), group.strip()
    return (None if covariate in ("", "1") else covariate), (group or None)


def data_column(data: pd.DataFrame, name: str, what: str) -> pd.Series:
    """The column ``name`` of the data, or a DataError naming it and the structure."""
    if name not in data.columns:
        raise DataError(f"{what} names the column {name!r}, which is not in the data")
    return data[name]
