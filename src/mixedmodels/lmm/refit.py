"""Refit a linear mixed model to a new response, reusing its design.

A parametric bootstrap or a simulation refits one design to many responses. Of the blocks
of ``[Z X y]'W[Z X y]`` only those with ``y`` in them change (``Z'Wy``, ``X'Wy`` and
``y'Wy``), so a refit forms those and nothing else: no formula is read, no frame is built
and neither Z'WZ, Z'WX nor X'WX is summed again. The optimizer then runs exactly as in
:func:`mixedmodels.lmm`, from the same start (the moment estimate where the model has
one, else the fitted theta) and with the same settings, with the fit's Hessian for its
first Newton step, so a refit is the fit that ``mm.lmm`` gives on the data with that
response.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mixedmodels.core.covariance import CovarianceLayout, covariance_layout
from mixedmodels.core.optinfo import OptimizerSettings
from mixedmodels.design.crossproducts import ZTerm, with_response
from mixedmodels.design.frame import ModelFrame
from mixedmodels.errors import DataError
from mixedmodels.lmm.fit import fit_frame, record_of_model, response_shift
from mixedmodels.lmm.record import LmmRecord

__all__ = ["ConditionedDesign", "check_response", "refit_fixed", "refit_response"]


@dataclass(frozen=True)
class ConditionedDesign:
    """The centred and scaled matrices of a fit (:mod:`mixedmodels.design.conditioning`):
    what the response blocks and the fitted values of a refit are formed from.

    Attributes
    ----------
    frame : ModelFrame
        The conditioned frame (its response is the original fit's and is not read).
    layout : CovarianceLayout
        Its storage blocks.
    """

    frame: ModelFrame
    layout: CovarianceLayout

    @classmethod
    def of(cls, fit: LmmRecord) -> ConditionedDesign:
        """The conditioned design of a fit (formed once per fit and kept with it)."""
        cached = fit.__dict__.get("_conditioned")
        if isinstance(cached, cls):
            return cached
        cond = fit.model.conditioning
        cframe = cond.apply(fit._frame)
        clayout = fit._layout if cond.is_identity else covariance_layout(cframe)
        design = cls(cframe, clayout)
        object.__setattr__(fit, "_conditioned", design)
        return design

    def zterms(self) -> list[ZTerm]:
        """The columns of Z of every storage block."""
        return [ZTerm(b.factor.codes, b.matrix, b.n_levels) for b in self.layout.blocks]


def check_response(y: Any, nobs: int, n_dropped: int) -> np.ndarray:
    """A new response as a float64 vector of ``nobs`` finite values, or a DataError that
    says what is wrong with it."""
    try:
        array = np.asarray(y)
    except Exception as exc:  # e.g. ragged nested sequences
        raise DataError(f"refit needs {nobs} numbers, one per row used; got {exc}") from None
    if array.dtype.kind not in "biuf":
        if array.dtype.kind == "O":
            try:
                array = array.astype(np.float64)
            except (TypeError, ValueError):
                raise DataError(
                    f"refit needs a numeric response; got values of dtype {array.dtype} "
                    "that are not all numbers"
                ) from None
        else:
            raise DataError(f"refit needs a numeric response, not dtype {array.dtype}")
    if array.ndim != 1 or array.shape[0] != nobs:
        rows = "one per row used in the fit"
        if n_dropped:
            rows += f" ({n_dropped} input rows were dropped for missing values)"
        raise DataError(f"refit needs {nobs} responses, {rows}; got shape {array.shape}")
    values = array.astype(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"the new response has {int(bad.sum())} missing or infinite value(s) (first at "
            f"position {first}); a refit keeps the rows of the fit, so every value must be "
            "finite"
        )
    return values


def refit_response(fit: LmmRecord, y: np.ndarray) -> LmmRecord:
    """The fit of ``fit``'s model to the checked response ``y`` (see
    :meth:`LmmResult.refit`)."""
    design = ConditionedDesign.of(fit)
    frame = replace(fit._frame, y=y)
    cframe = design.frame
    response = y if cframe.offset is None else y - cframe.offset
    shift = response_shift(cframe, response)
    B = np.column_stack([cframe.X, response - shift])
    products = with_response(fit.model.products, design.zterms(), B, cframe.weights)
    model = fit.model.with_response(products, shift)
    settings = fit._settings or OptimizerSettings()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # from the moment estimate of the new response, as mm.lmm starts (or, for models
        # without one, from the fitted theta, as lme4's refit()), with the fit's Hessian:
        # Newton steps reach the new optimum (the tests hold it to the fresh fit's) in a
        # few gradients, and the general optimizer runs only when they do not
        out = record_of_model(
            model,
            frame,
            fit._layout,
            cframe,
            design.layout,
            settings,
            fit._index,
            fit.data_label,
            start=fit.theta,
            hessian=fit.optinfo.hessian,
        )
    object.__setattr__(out, "_conditioned", design)
    return out


def refit_fixed(fit: LmmRecord, y: np.ndarray, X: np.ndarray) -> LmmRecord | None:
    """The fit of ``fit``'s model to a new response ``y`` with new values ``X`` of its
    fixed-effects matrix (same columns, same rows and grouping), as a simulation with a
    fresh covariate per data set needs; None when the new ``X`` loses a column to
    aliasing (then the caller fits the data from scratch, which reports it).

    The grouping factors, the random-effects matrices, the weights and the offset are the
    fit's; the conditioning and every block are formed again from ``X`` and ``y``, by the
    steps :func:`mixedmodels.lmm` takes after reading the data, so the result is the
    one it gives.
    """
    from mixedmodels.design.fixed import independent_columns

    frame = fit._frame
    if X.shape != frame.X.shape or y.shape != frame.y.shape:
        raise DataError(
            f"refit needs {frame.X.shape} fixed-effects values and {frame.y.shape} "
            f"responses; got {X.shape} and {y.shape}"
        )
    if independent_columns(X).size != X.shape[1]:
        return None
    new = replace(frame, y=np.asarray(y, dtype=np.float64), X=np.ascontiguousarray(X))
    settings = fit._settings or OptimizerSettings()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # with the fit's Hessian, as refit_response: a simulated data set of the same
        # design has nearly the same curvature at its optimum
        return fit_frame(
            new,
            fit._layout,
            fit.reml,
            settings,
            fit._index,
            fit.data_label,
            start=fit.theta,
            hessian=fit.optinfo.hessian,
        )
