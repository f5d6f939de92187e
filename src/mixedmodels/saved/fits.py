"""What a saved fit holds and how it is rebuilt (:func:`save_fit`, :func:`load_fit`).

A fit is saved as its fields, exactly (every array to the bit, the variance-component and
conditional-mode tables as columns), and the model frame's columns for the rows it used:
what R keeps in a fitted model's frame. On loading, the design is encoded again from those
columns with the saved formula (the same encodings, factor levels and transforms' states),
the model object is formed again from the design, and the saved fields are put back: the
estimates are the saved ones, not a refit, and the loaded fit predicts, simulates,
summarises, tests and gives marginal means as the original did.
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels.core.boundary import BoundaryCheck
from mixedmodels.core.covariance import covariance_layout
from mixedmodels.core.optinfo import OptimizerSettings, OptInfo
from mixedmodels.core.result import RandomTables
from mixedmodels.design.frame import ModelFrame, model_frame
from mixedmodels.design.namespace import user_functions
from mixedmodels.errors import DataError, MixedModelsError, ModelSpecError
from mixedmodels.saved.archive import read_archive, write_archive

__all__ = ["load_fit", "save_fit"]

_DATACLASSES: dict[str, type] = {
    "OptInfo": OptInfo,
    "BoundaryCheck": BoundaryCheck,
    "OptimizerSettings": OptimizerSettings,
}
# fields formed again from the design on loading
_REBUILT = {"model", "_model", "_frame", "_layout", "_theta_map", "_tables", "_index", "_rows"}


class _Encoder:
    """JSON for the manifest, the arrays set aside by name."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def array(self, name: str, value: np.ndarray) -> dict[str, str]:
        key = f"a{len(self.arrays)}_{name}"
        if value.dtype.kind == "O":
            value = value.astype(str)
        self.arrays[key] = np.asarray(value)
        return {"array": key}

    def value(self, name: str, value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return self.array(name, value)
        if isinstance(value, (np.bool_, bool)):
            return bool(value)
        if isinstance(value, (np.integer, int)):
            return int(value)
        if isinstance(value, (np.floating, float)):
            return float(value)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, tuple):
            return {"tuple": [self.value(name, v) for v in value]}
        if isinstance(value, list):
            return {"list": [self.value(name, v) for v in value]}
        if isinstance(value, dict):
            return {"dict": {str(k): self.value(f"{name}.{k}", v) for k, v in value.items()}}
        kind = type(value).__name__
        if dataclasses.is_dataclass(value) and kind in _DATACLASSES:
            fields = {
                f.name: self.value(f"{name}.{f.name}", getattr(value, f.name))
                for f in dataclasses.fields(value)
            }
            return {"dataclass": kind, "fields": fields}
        raise TypeError(f"the field {name!r} ({kind}) has no saved form")

    def table(self, name: str, frame: pd.DataFrame) -> dict[str, Any]:
        columns = []
        for i, column in enumerate(frame.columns):
            values = frame[column]
            entry: dict[str, Any] = {"name": str(column)}
            if isinstance(values.dtype, pd.CategoricalDtype):
                categories = values.cat.categories
                entry.update(
                    kind="categorical",
                    categories=self.array(f"{name}{i}cat", categories.to_numpy()),
                    category_kind=categories.dtype.kind,
                    ordered=bool(values.cat.ordered),
                    codes=self.array(f"{name}{i}", values.cat.codes.to_numpy()),
                )
            elif pd.api.types.is_bool_dtype(values.dtype):
                entry.update(kind="bool", values=self.array(f"{name}{i}", values.to_numpy(bool)))
            elif values.dtype.kind in "iuf":
                entry.update(kind="numeric", values=self.array(f"{name}{i}", values.to_numpy()))
            else:
                text = values.to_numpy(dtype=object)
                missing = pd.isna(text)
                entry.update(
                    kind="text",
                    dtype="object" if values.dtype == object else str(values.dtype),
                    values=self.array(f"{name}{i}", np.where(missing, "", text).astype(str)),
                    missing=self.array(f"{name}{i}na", missing.astype(bool)),
                )
            columns.append(entry)
        return {"columns": columns, "index": self.index(f"{name}index", frame.index)}

    def index(self, name: str, index: pd.Index) -> Any:
        if isinstance(index, pd.RangeIndex):
            return {"range": [index.start, index.stop, index.step]}
        values = index.to_numpy()
        if values.dtype.kind in "iufb":
            return {"values": self.array(name, values)}
        return {"text": self.array(name, values.astype(str))}


class _Decoder:
    def __init__(self, arrays: dict[str, np.ndarray], path: Path) -> None:
        self.arrays, self.path = arrays, path

    def array(self, ref: Any) -> np.ndarray:
        try:
            return self.arrays[ref["array"]]
        except (KeyError, TypeError):
            raise DataError(
                f"{self.path}: the manifest refers to a missing array {ref!r}"
            ) from None

    def value(self, value: Any) -> Any:
        if isinstance(value, dict):
            if "array" in value:
                out = np.array(self.array(value))
                out.setflags(write=False)
                return out
            if "tuple" in value:
                return tuple(self.value(v) for v in value["tuple"])
            if "list" in value:
                return [self.value(v) for v in value["list"]]
            if "dict" in value:
                return {k: self.value(v) for k, v in value["dict"].items()}
            if "dataclass" in value:
                cls = _DATACLASSES.get(value["dataclass"])
                if cls is None:
                    raise DataError(f"{self.path}: unknown saved type {value['dataclass']!r}")
                return cls(**{k: self.value(v) for k, v in value["fields"].items()})
            raise DataError(f"{self.path}: a field of the manifest has no known form")
        return value

    def table(self, stored: dict[str, Any]) -> pd.DataFrame:
        columns: dict[str, Any] = {}
        as_object: list[str] = []
        for entry in stored["columns"]:
            kind = entry["kind"]
            if kind == "categorical":
                categories = self.array(entry["categories"])
                if entry["category_kind"] == "O":
                    categories = categories.astype(object)
                columns[entry["name"]] = pd.Categorical.from_codes(
                    self.array(entry["codes"]),
                    categories=pd.Index(categories),
                    ordered=entry["ordered"],
                )
            elif kind == "text":
                values = self.array(entry["values"]).astype(object)
                values[self.array(entry["missing"])] = None
                dtype = entry.get("dtype", "object")
                if dtype == "object":
                    as_object.append(entry["name"])
                    columns[entry["name"]] = values
                else:
                    columns[entry["name"]] = pd.array(values, dtype=dtype)
            else:
                columns[entry["name"]] = self.array(entry["values"])
        out = pd.DataFrame(columns, index=self.index(stored["index"]))
        for name in as_object:  # pandas would infer its string dtype for them
            out[name] = pd.Series(columns[name], index=out.index, dtype=object)
        return out

    def index(self, stored: dict[str, Any]) -> pd.Index:
        if "range" in stored:
            return pd.RangeIndex(*stored["range"])
        values = self.array(stored["values"] if "values" in stored else stored["text"])
        out: pd.Index = pd.Index(values if "values" in stored else values.astype(object))
        return out


def _kind(fit: Any) -> str:
    from mixedmodels.glmm.result import GlmmResult
    from mixedmodels.lmm_result import LmmResult

    if isinstance(fit, GlmmResult):
        return "glmm"
    if type(fit) is LmmResult:
        return "lmm"
    raise ModelSpecError(
        f"saving is for the results of mm.lmm and mm.glmm; a {type(fit).__name__} is not saved"
    )


def save_fit(fit: Any, path: str | PathLike[str]) -> None:
    """Write ``fit`` to ``path`` (see :mod:`mixedmodels.saved.archive` for the format)."""
    from mixedmodels import __version__

    kind = _kind(fit)
    frame: ModelFrame = fit._model.frame if kind == "glmm" else fit._frame
    if kind == "glmm" and fit._model is None:
        raise ModelSpecError("this GLMM result keeps no model to save")
    if kind == "lmm" and not fit.rows_in_memory:
        raise ModelSpecError(
            "a fit to a Dask DataFrame keeps only its blocks, not its rows: it is not saved"
        )
    enc = _Encoder()
    fields = {
        f.name: enc.value(f.name, getattr(fit, f.name))
        for f in dataclasses.fields(fit)
        if f.name not in _REBUILT
    }
    design: dict[str, Any] = {
        "formula": frame.formula.text,
        "names": frame.name_style,
        "functions": sorted(frame.functions or {}),
        "rows": enc.array("rows", frame.rows),
        "n_input": frame.n_input,
        "weights_column": None,
        "prior_weights": None,
        "offset": None if frame.offset is None else enc.array("offset", frame.offset),
        "offset_column": frame.offset_column,
        "data": enc.table("data", frame.data),
        "index": enc.index("fit_index", fit._index),
    }
    if frame.prior_weights is not None:
        design["prior_weights"] = enc.array("prior_weights", frame.prior_weights)
    if kind == "glmm":
        model = fit._model
        design.update(
            family=model.family.name,
            link=model.family.link.name,
            nagq=model.nagq,
            settings=enc.value("settings", model.settings),
            zi_formula=model.zi_formula,
            disp_formula=model.disp_formula,
            zi_X=None if model.zi_X is None else enc.array("zi_X", model.zi_X),
            disp_X=None if model.disp_X is None else enc.array("disp_X", model.disp_X),
            zi_names=list(model.zi_names),
            disp_names=list(model.disp_names),
        )
    tables = {
        "varcorr": enc.table("varcorr", fit._tables.varcorr),
        "ranef": enc.table("ranef", fit._tables.ranef),
    }
    manifest = {
        "library_version": __version__,
        "kind": kind,
        "fields": fields,
        "design": design,
        "tables": tables,
    }
    write_archive(path, manifest, enc.arrays)


def _rebuilt_frame(design: dict[str, Any], dec: _Decoder, functions: Any, kind: str) -> ModelFrame:
    data = dec.table(design["data"]).reset_index(drop=True)
    prior = None if design["prior_weights"] is None else dec.value(design["prior_weights"])
    wanted = sorted(design["functions"])
    given = sorted(functions or {})
    if wanted and wanted != given:
        raise ModelSpecError(
            f"this fit's formula calls the user's own functions {', '.join(wanted)}: pass "
            "them again, mm.load(path, functions={...})"
        )
    with user_functions(functions):
        frame = model_frame(
            design["formula"],
            data,
            weights=None if prior is None else np.array(prior),
            offset=design["offset_column"],
            response_kind="binomial" if design.get("family") == "binomial" else "numeric",
            residual_variance=kind == "lmm",
            names=design["names"],
        )
    offset = None if design["offset"] is None else dec.value(design["offset"])
    return replace(
        frame, rows=np.array(dec.value(design["rows"])), n_input=design["n_input"], offset=offset
    )


def load_fit(path: str | PathLike[str], functions: Any = None) -> Any:
    """The fit saved at ``path``."""
    path = Path(path)
    manifest, arrays = read_archive(path)
    dec = _Decoder(arrays, path)
    kind = manifest.get("kind")
    if kind not in ("lmm", "glmm"):
        raise DataError(f"{path}: unknown kind of fit {kind!r}")
    try:
        design = manifest["design"]
        fields = {k: dec.value(v) for k, v in manifest["fields"].items()}
        tables = RandomTables(
            dec.table(manifest["tables"]["varcorr"]), dec.table(manifest["tables"]["ranef"])
        )
        frame = _rebuilt_frame(design, dec, functions, kind)
        index = dec.index(design["index"])
    except MixedModelsError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: the saved fit is incomplete or damaged ({exc!r})") from None
    if kind == "lmm":
        return _lmm(fields, frame, tables, index)
    return _glmm(fields, design, dec, frame, tables, index)


def _lmm(fields: dict[str, Any], frame: ModelFrame, tables: RandomTables, index: pd.Index) -> Any:
    from mixedmodels.lmm.fit import model_of_frame
    from mixedmodels.lmm.record import LmmRecord
    from mixedmodels.lmm_result import LmmResult

    layout = covariance_layout(frame)
    model = model_of_frame(frame, layout, bool(fields["reml"]))
    record = LmmRecord(
        **fields,
        model=model,
        _frame=frame,
        _layout=layout,
        _theta_map=layout.theta_map(),
        _tables=tables,
        _index=index,
    )
    return LmmResult.of(record)


def _glmm(
    fields: dict[str, Any],
    design: dict[str, Any],
    dec: _Decoder,
    frame: ModelFrame,
    tables: RandomTables,
    index: pd.Index,
) -> Any:
    from mixedmodels.glmm.family import family as get_family
    from mixedmodels.glmm.fit import glmm_model
    from mixedmodels.glmm.result import GlmmResult

    def optional(ref: Any) -> np.ndarray | None:
        return None if ref is None else np.array(dec.value(ref))

    model = glmm_model(
        frame,
        get_family(design["family"], design["link"]),
        int(design["nagq"]),
        dec.value(design["settings"]),
        index,
        (design["zi_formula"], optional(design["zi_X"]), design["zi_names"]),
        (design["disp_formula"], optional(design["disp_X"]), design["disp_names"]),
    )
    return GlmmResult(**fields, _tables=tables, _index=index, _model=model)
