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
from mixedmodels.design.namespace import user_functions
from mixedmodels.errors import DataError, ModelSpecError
from mixedmodels.formula.parse import parse_formula
from mixedmodels.lmm.record import LmmRecord

__all__ = [
    "PredictionModel",
    "prediction_model",
    "prediction_model_of",
    "predict_lazy",
    "predict_new",
    "predict_rows",
    "selected_terms",
]


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
    return prediction_model_of(fit._frame, fit._tables.ranef, fit._random_columns, fit.beta)


def prediction_model_of(
    frame: ModelFrame,
    ranef: pd.DataFrame,
    random_columns: dict[str, tuple[str, ...]],
    beta: np.ndarray,
) -> PredictionModel:
    """The :class:`PredictionModel` of a fit's frame, conditional modes (its ``ranef()``
    table) and fixed effects; an LMM's or a GLMM's (on the link scale)."""
    frame = frame.without_rows()
    layout = covariance_layout(frame)
    modes = []
    for block in layout.blocks:
        names = random_columns[block.factor.name]
        table = ranef[ranef["group"] == block.factor.name]
        wide = table.pivot(index="level", columns="term", values="value")
        modes.append(wide.loc[list(block.factor.levels), list(names)].to_numpy())
    return PredictionModel(frame, layout, np.asarray(beta), tuple(modes))


def _labels(data: pd.DataFrame, factors: tuple[str, ...]) -> np.ndarray:
    parts = [data[f].astype(str).to_numpy() for f in factors]
    out = parts[0].astype(object)
    for more in parts[1:]:
        out = np.char.add(np.char.add(out.astype(str), ":"), more.astype(str)).astype(object)
    return out


def selected_terms(frame: ModelFrame, re_form: Any) -> frozenset[int] | None:
    """The random-effect terms a prediction conditions on, as lme4's ``re.form``: None
    for all of them; ``NA``, ``"~0"`` or ``False`` for none; a formula such as
    ``"~ (1 | plate)"`` for those terms (each must be one of the model's)."""
    if re_form is None:
        return None
    if re_form is False or (isinstance(re_form, str) and re_form.replace(" ", "") in ("NA", "~0")):
        return frozenset()
    if not isinstance(re_form, str) or not re_form.strip().startswith("~"):
        raise ModelSpecError(
            f"re_form must be None, 'NA', '~0' or a one-sided formula such as "
            f"'~ (1 | g)', not {re_form!r}"
        )
    wanted = parse_formula(f"y {re_form}").random
    if not wanted:
        raise ModelSpecError(f"re_form {re_form!r} names no random-effect term such as (1 | g)")

    def lhs(text: str) -> str:
        return text.replace(" ", "")

    chosen = set()
    for spec in wanted:
        same_factor = [i for i, t in enumerate(frame.terms) if t.spec.factors == spec.factors]
        exact = [i for i in same_factor if lhs(frame.terms[i].spec.lhs) == lhs(spec.lhs)]
        found = exact or (same_factor if len(same_factor) == 1 else [])
        if not found:
            terms = ", ".join(t.spec.source for t in frame.terms)
            raise ModelSpecError(
                f"re_form's term {spec.source} is not one of the model's random terms ({terms})"
            )
        chosen.update(found)
    return frozenset(chosen)


def predict_rows(
    model: PredictionModel,
    data: pd.DataFrame,
    re: bool,
    allow_new_levels: bool,
    terms: frozenset[int] | None = None,
) -> np.ndarray:
    """The linear predictor of every row of ``data`` (see :meth:`LmmResult.predict`),
    with the random-effect terms ``terms`` (all of them for None), the fit's own
    formula functions (``functions=``) in force."""
    with user_functions(model.frame.functions):
        return _predict_rows(model, data, re, allow_new_levels, terms)


def _predict_rows(
    model: PredictionModel,
    data: pd.DataFrame,
    re: bool,
    allow_new_levels: bool,
    terms: frozenset[int] | None,
) -> np.ndarray:
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
            parts = [
                (t, start, k) for t, start, k in block.term_columns if terms is None or t in terms
            ]
            if not parts:
                continue
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
            b = np.where(new[:, None], 0.0, values[np.maximum(index, 0)])
            for t, start, k in parts:
                Z = encode_new(
                    frame.terms[t].encoding, data, f"random term {frame.terms[t].spec.source}"
                )
                eta = eta + np.einsum("ik,ik->i", Z, b[:, start : start + k])
    return np.asarray(eta, dtype=np.float64)


def predict_new(
    fit: LmmRecord, newdata: Any, re: bool, allow_new_levels: bool, re_form: Any = None
) -> pd.Series:
    """See :meth:`LmmResult.predict`."""
    data = as_dataframe(newdata)
    terms = selected_terms(fit._frame, re_form)
    eta = predict_rows(prediction_model(fit), data, re, allow_new_levels, terms)
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
