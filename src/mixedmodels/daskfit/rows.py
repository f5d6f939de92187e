"""Per-row values of a fit to Dask data, as lazy Dask series built partition by partition
from beta, the conditional modes and the encodings (the rows never come to the client)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels._data import shared_in_graph
from mixedmodels.daskfit.encoding import RowEncoder, encode_partition
from mixedmodels.lmm.predict import prediction_model
from mixedmodels.lmm.record import LmmRecord

__all__ = ["DaskRows", "FittedRows"]


@dataclass(frozen=True)
class FittedRows:
    """What the fitted values of the training rows need: the encoder, beta (for the kept
    fixed-effect columns) and each storage block's conditional modes ``(levels, k)``."""

    encoder: RowEncoder
    beta: np.ndarray
    kept_columns: tuple[int, ...]
    modes: tuple[np.ndarray, ...]


def _number(partition_info: dict[str, Any] | None) -> int:
    return int(partition_info["number"]) if partition_info else -1


def _per_row(
    part: pd.DataFrame, model: FittedRows, which: str, partition_info: dict[str, Any] | None = None
) -> pd.Series:
    rows = encode_partition(part, model.encoder, _number(partition_info))
    eta = rows.X[:, list(model.kept_columns)] @ model.beta
    if rows.offset is not None:
        eta = eta + rows.offset
    for zterm, modes in zip(rows.zterms, model.modes, strict=True):
        eta = eta + np.einsum("ik,ik->i", zterm.matrix, modes[zterm.codes])
    out = np.full(len(part), np.nan)
    out[rows.keep] = eta if which == "fitted" else rows.y - eta
    return pd.Series(out, index=part.index, name=which)


@dataclass(frozen=True)
class DaskRows:
    """Where the rows of a fit to a Dask DataFrame live: the frame and its encoder."""

    data: Any
    encoder: RowEncoder

    def _series(self, fit: LmmRecord, which: str) -> Any:
        model = FittedRows(
            self.encoder,
            np.asarray(fit.beta),
            fit._frame.kept_columns,
            prediction_model(fit).modes,
        )
        meta = pd.Series(dtype=np.float64, name=which)
        return self.data.map_partitions(_per_row, shared_in_graph(model), which, meta=meta)

    def fitted(self, fit: LmmRecord) -> Any:
        """``X beta + Z b (+ offset)`` per row (NaN where a row was dropped), lazily."""
        return self._series(fit, "fitted")

    def residuals(self, fit: LmmRecord) -> Any:
        """``y - fitted`` per row (NaN where a row was dropped), lazily."""
        return self._series(fit, "residuals")
