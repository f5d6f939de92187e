"""Fit a generalized linear mixed model, as lme4's ``glmer`` and glmmTMB's ``glmmTMB``:
read the formula and the side models (zero inflation, dispersion) from the data, check
them against the family, and fit the :class:`~mixedmodels.glmm.model.GlmmModel` they make
(:mod:`mixedmodels.glmm.estimate`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels._data import as_dataframe, is_dask_dataframe
from mixedmodels.core.covariance import covariance_layout
from mixedmodels.core.optinfo import OptimizerSettings
from mixedmodels.design.conditioning import conditioning
from mixedmodels.design.frame import ModelFrame, model_frame
from mixedmodels.design.materialize import design_matrix
from mixedmodels.design.namespace import user_functions, with_contrasts
from mixedmodels.errors import (
    DataError,
    ModelSpecError,
)
from mixedmodels.glmm.family import Family
from mixedmodels.glmm.family import family as get_family
from mixedmodels.glmm.model import GlmmModel
from mixedmodels.glmm.result import GlmmResult

__all__ = ["MAX_NAGQ", "glmm"]

#: The most adaptive Gauss-Hermite nodes a fit takes (cbpp's likelihood agrees from 25 to
#: 300 nodes to 1e-13; at 500 the weights underflow).
MAX_NAGQ = 100


def glmm(
    formula: str,
    data: Any,
    *,
    family: str | Family = "binomial",
    link: str | None = None,
    weights: Any = None,
    offset: Any = None,
    nagq: int = 1,
    settings: OptimizerSettings | None = None,
    zi: str | None = None,
    dispersion: str | None = None,
    contrasts: Mapping[str, Any] | None = None,
    names: str = "python",
    functions: Mapping[str, Any] | None = None,
) -> GlmmResult:
    """Fit a generalized linear mixed model, as lme4's ``glmer``.

    ``g(E[y | b]) = X beta + Z b + offset`` with ``b ~ N(0, Lambda Lambda')``; the
    likelihood is approximated by Laplace's method (``nagq=1``), by adaptive
    Gauss-Hermite quadrature (``nagq > 1``, one scalar random-effect term only), or with
    beta estimated inside PIRLS (``nagq=0``, faster and slightly less accurate).

    Parameters
    ----------
    formula : str
        lme4 formula; for binomial data the response may be 0/1 (or boolean, or a factor
        whose first level is failure), ``cbind(successes, failures)``, or a proportion
        with ``weights=`` the number of trials.
    data : pandas.DataFrame, polars.DataFrame or dict of arrays
    family : {"binomial", "poisson", "gaussian", "Gamma", "inverse.gaussian"} or Family
        R's names (see :mod:`mixedmodels.glmm.family`). The families with a dispersion
        (gaussian, Gamma, inverse Gaussian) estimate it with theta and beta by the
        Laplace approximation with the observed information, as glmmTMB does
        (``fit.dispersion`` is glmmTMB's ``sigma()``).
    link : str, optional
        The family's default link unless given: binomial ``"logit"`` (or ``"probit"``,
        ``"cloglog"``); Poisson ``"log"`` (``"identity"``, ``"sqrt"``); gaussian
        ``"identity"`` (``"log"``, ``"inverse"``); Gamma ``"inverse"`` (``"log"``,
        ``"identity"``); inverse Gaussian ``"1/mu^2"`` (``"inverse"``, ``"log"``,
        ``"identity"``).
    weights : str or array-like, optional
        Prior weights (binomial: the number of trials of a proportion response).
    offset : str or array-like, optional
    nagq : int, default 1
    settings : OptimizerSettings, optional
    zi : str, optional
        A zero-inflation model for a count family, glmmTMB's ``ziformula``: ``"~ 1"``
        (one probability of a structural zero) or with predictors (``"~ mined"``), on
        the logit scale, fixed effects only. Its coefficients are ``fit.zi_fixef``.
    dispersion : str, optional
        A dispersion model for a family with a dispersion, glmmTMB's ``dispformula``:
        ``"~ x"`` makes ``log phi = X_disp delta`` row by row (phi the family's dispersion
        parameter: a Gaussian's variance, a Gamma's ``1 / shape``, the size of a negative
        binomial, a beta's precision), fixed effects only. Its coefficients are
        ``fit.disp_fixef``; ``fit.dispersion`` is then ``sigma()`` per row.
    contrasts : dict, optional
        R's ``contrasts=`` for categorical columns, as :func:`mixedmodels.lmm`'s.
    names : {"python", "r"}, default "python"
        The coefficients' names, as :func:`mixedmodels.lmm`'s.
    functions : dict, optional
        The user's own functions the formula may call, as :func:`mixedmodels.lmm`'s.

    Returns
    -------
    GlmmResult
    """
    if is_dask_dataframe(data):
        raise ModelSpecError(
            "GLMMs are not fitted on Dask DataFrames: a GLMM's blocks depend on its working "
            "weights, which change at every PIRLS iteration, so each iteration (dozens per "
            "fit, for every theta the optimizer tries) would need another pass over all the "
            "partitions. Fit it to an in-memory frame (ddf.compute(), or a sample); linear "
            "mixed models (mm.lmm) are fitted on Dask data directly."
        )
    settings = settings or OptimizerSettings()
    fam = get_family(family, link)
    if not isinstance(nagq, (int, np.integer)) or isinstance(nagq, bool) or nagq < 0:
        raise ModelSpecError(f"nagq must be a whole number >= 0, not {nagq!r}")
    nagq = int(nagq)
    if nagq > MAX_NAGQ:
        raise ModelSpecError(
            f"nagq = {nagq} is more quadrature nodes than a fit can use: at most {MAX_NAGQ} "
            "(the likelihood settles within a few dozen nodes, lme4 allows 25; the weights "
            "of hundreds of nodes underflow)"
        )
    if nagq == 0 and fam.has_dispersion:
        raise ModelSpecError(
            f"nagq = 0 estimates beta inside PIRLS at a fixed dispersion; the {fam.name} "
            "family's dispersion is estimated with beta and theta: use nagq=1 (Laplace)"
        )
    kind = "binomial" if fam.name == "binomial" else "numeric"
    formula = with_contrasts(formula, contrasts)
    with user_functions(functions):
        frame = model_frame(
            formula,
            data,
            weights=weights,
            offset=offset,
            response_kind=kind,
            residual_variance=False,
            names=names,
        )
    fam.check_response(frame.y, frame.response_name, frame.weights)
    if nagq > 1 and (len(frame.terms) != 1 or frame.terms[0].n_columns != 1):
        terms = " + ".join(t.spec.source for t in frame.terms)
        raise ModelSpecError(
            f"nagq = {nagq} (adaptive quadrature) needs a single scalar random-effect term "
            f"such as (1 | g); this model has {terms}. Use nagq=1 (Laplace), as lme4 does."
        )
    zi_X, zi_names = _zero_inflation(zi, data, frame, fam, nagq)
    disp_X, disp_names = _dispersion_model(dispersion, data, frame, fam)
    index = data.index if isinstance(data, pd.DataFrame) else pd.RangeIndex(frame.n_input)
    model = glmm_model(
        frame, fam, nagq, settings, index, (zi, zi_X, zi_names), (dispersion, disp_X, disp_names)
    )
    return model.fit()


def glmm_model(
    frame: ModelFrame,
    fam: Family,
    nagq: int,
    settings: OptimizerSettings,
    index: pd.Index,
    zi: tuple[str | None, np.ndarray | None, Sequence[str]] = (None, None, ()),
    dispersion: tuple[str | None, np.ndarray | None, Sequence[str]] = (None, None, ()),
) -> GlmmModel:
    """The model object of a GLMM's design, fitted on its centred and scaled matrices and
    reported in the original ones; ``zi`` and ``dispersion`` are each side model's
    ``(formula, design, column names)``."""
    layout = covariance_layout(frame)
    cond = conditioning(frame)
    cframe = cond.apply(frame)
    clayout = covariance_layout(cframe) if not cond.is_identity else layout
    return GlmmModel(
        frame=frame,
        layout=layout,
        conditioned=cframe,
        conditioned_layout=clayout,
        conditioning=cond,
        family=fam,
        nagq=nagq,
        settings=settings,
        index=index,
        zi_X=zi[1],
        zi_names=tuple(zi[2]),
        disp_X=dispersion[1],
        disp_names=tuple(dispersion[2]),
        zi_formula=zi[0],
        disp_formula=dispersion[0],
    )


def _side_design(text: Any, data: Any, frame: ModelFrame, what: str, argument: str) -> Any:
    """The design of a one-sided formula of a side model (zero inflation, dispersion) in
    the frame's rows, with its column names."""
    formula = str(text).strip()
    if not formula.startswith("~"):
        raise ModelSpecError(
            f"{argument} must be a one-sided formula such as '~ 1' or '~ x', not {text!r}"
        )
    rows = as_dataframe(data).iloc[frame.rows]
    return design_matrix(formula[1:].strip() or "1", rows, f"the {what} formula")


def _zero_inflation(
    zi: str | None, data: Any, frame: ModelFrame, fam: Family, nagq: int
) -> tuple[np.ndarray | None, list[str]]:
    """The zero-inflation design in the frame's rows, with its column names."""
    if zi is None:
        return None, []
    if not fam.counts:
        raise ModelSpecError(f"zero inflation (zi=) is for count families, not {fam.name}")
    if nagq != 1:
        raise ModelSpecError("a zero-inflated model is fitted by the Laplace approximation: nagq=1")
    if frame.weights is not None:
        raise ModelSpecError("a zero-inflated model takes no prior weights")
    X, names = _side_design(zi, data, frame, "zero-inflation", "zi")
    if not np.any(frame.y == 0):
        raise DataError(
            f"the response {frame.response_name!r} has no zeros: there is nothing for a "
            "zero-inflation model to explain; drop zi="
        )
    return X, list(names)


def _dispersion_model(
    dispersion: str | None, data: Any, frame: ModelFrame, fam: Family
) -> tuple[np.ndarray | None, list[str]]:
    """The dispersion model's design in the frame's rows (None for one phi: no model, or
    ``"~ 1"``), with its column names."""
    if dispersion is None:
        return None, []
    if not fam.has_dispersion:
        raise ModelSpecError(
            f"the {fam.name} family has no dispersion parameter to model; dispersion= is "
            "for gaussian, Gamma, inverse.gaussian, the negative binomials and beta"
        )
    X, names = _side_design(dispersion, data, frame, "dispersion", "dispersion")
    if X.shape[1] == 1 and np.all(X == 1.0):
        return None, []
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise ModelSpecError(
            f"the dispersion formula {dispersion!r} has aliased columns ({', '.join(names)}): "
            "drop the redundant terms"
        )
    return X, list(names)
