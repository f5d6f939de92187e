"""Predictions for new data: the fixed part encoded exactly as the training data, plus each
group's conditional modes (new levels: the population value, when allowed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels._data import as_dataframe, shared_in_graph, unknown_column_error
from mixedmodels.core.covariance import CovarianceLayout, covariance_layout
from mixedmodels.design.frame import ModelFrame, predictor_columns
from mixedmodels.design.materialize import encode_new
from mixedmodels.errors import DataError
from mixedmodels.lmm.record import LmmRecord

__all__ = ["PredictionModel", "prediction_model", "predict_lazy", "predict_new", "predict_rows"]


@dataclass(frozen=True)
class PredictionModel:
    """What a prediction reads from a fit, without the fit's rows (small enough to send to
    the workers of a Dask cluster).

    Attributes
    ----------
    frame : ModelFrame
        The design without rows: names, encodings, levels.
    layout : CovarianceLayout
    beta : numpy.ndarray
    modes : tuple of numpy.ndarray
        Each grouping factor's conditional modes, ``(levels, k)``, in ``layout.blocks``
        order.
    """

    frame: ModelFrame
    layout: CovarianceLayout
    beta: np.ndarray
    modes: tuple[np.ndarray, ...]


def prediction_model(fit: LmmRecord) -> PredictionModel:
    """The :class:`PredictionModel` of a fitted LMM."""
    frame = fit._frame.without_rows()
    layout = covariance_layout(frame)
    ranef = fit._tables.ranef
    modes = []
    for block in layout.blocks:
        names = fit._random_columns[block.factor.name]
        table = ranef[ranef["group"] == block.factor.name]
        wide = table.pivot(index="level", columns="term", values="value")
        modes.append(wide.loc[list(block.factor.levels), list(names)].to_numpy())
    return PredictionModel(frame, layout, np.asarray(fit.beta), tuple(modes))


def _labels(data: pd.DataFrame, factors: tuple[str, ...]) -> np.ndarray:
    parts = [data[f].astype(str).to_numpy() for f in factors]
    out = parts[0].astype(object)
    for more in parts[1:]:
        out = np.char.add(np.char.add(out.astype(str), ":"), more.astype(str)).astype(object)
    return out


def predict_rows(
    model: PredictionModel, data: pd.DataFrame, re: bool, allow_new_levels: bool
) -> np.ndarray:
    """The linear predictor of every row of ``data`` (see :meth:`LmmResult.predict`)."""
    frame, layout = model.frame, model.layout
    # the columns the right-hand side reads (not the response's: log(Reaction)'s Reaction)
    for column in predictor_columns(frame.formula):
        if column not in data.columns and column != frame.offset_column:
            raise unknown_column_error(column, data.columns, "the new data for predict()")
    X = encode_new(frame.fixed_encoding, data, "the fixed part")[:, list(frame.kept_columns)]
    eta = X @ model.beta
    for encoding in frame.offset_encodings:
        eta = eta + encode_new(encoding, data, "offset()")[:, 0]
    if frame.offset_column is not None:
        if frame.offset_column not in data.columns:
            raise unknown_column_error(frame.offset_column, data.columns, "offset=")
        eta = eta + data[frame.offset_column].to_numpy(dtype=np.float64)
    if re:
        for block, values in zip(layout.blocks, model.modes, strict=True):
            lookup = {level: i for i, level in enumerate(block.factor.levels)}
            first_term = frame.terms[block.term_columns[0][0]]
            labels = _labels(data, first_term.spec.factors)
            index = np.array([lookup.get(v, -1) for v in labels], dtype=np.int64)
            new = index < 0
            if new.any() and not allow_new_levels:
                shown = ", ".join(repr(v) for v in pd.unique(labels[new])[:5])
                raise DataError(
                    f"the new data has level(s) of {block.factor.name!r} not seen in the fit: "
                    f"{shown}; pass allow_new_levels=True to predict them at the population "
                    "level (random effects 0)"
                )
            Z = np.hstack(
                [
                    encode_new(
                        frame.terms[t].encoding, data, f"random term {frame.terms[t].spec.source}"
                    )
                    for t, _, _ in block.term_columns
                ]
            )
            b = np.where(new[:, None], 0.0, values[np.maximum(index, 0)])
            eta = eta + np.einsum("ik,ik->i", Z, b)
    return np.asarray(eta, dtype=np.float64)


def predict_new(fit: LmmRecord, newdata: Any, re: bool, allow_new_levels: bool) -> pd.Series:
    """See :meth:`LmmResult.predict`."""
    data = as_dataframe(newdata)
    eta = predict_rows(prediction_model(fit), data, re, allow_new_levels)
    return pd.Series(eta, index=data.index, name="predicted")


def _predict_partition(
    part: pd.DataFrame, model: PredictionModel, re: bool, allow_new_levels: bool
) -> pd.Series:
    eta = predict_rows(model, part, re, allow_new_levels)
    return pd.Series(eta, index=part.index, name="predicted")


def predict_lazy(fit: LmmRecord, newdata: Any, re: bool, allow_new_levels: bool) -> Any:
    """:meth:`LmmResult.predict` for a Dask DataFrame: a lazy Dask series, partition by
    partition, with one copy of the prediction model in the task graph."""
    meta = pd.Series(dtype=np.float64, name="predicted")
    model = shared_in_graph(prediction_model(fit))
    return newdata.map_partitions(_predict_partition, model, re, allow_new_levels, meta=meta)
