"""LmmRecord: the fields of a linear mixed-model fit, which inference, refits, prediction
and simulation read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels.core.covariance import CovarianceLayout, ThetaMap
from mixedmodels.core.optinfo import OptimizerSettings
from mixedmodels.core.result import MixedModelResult, frozen_array
from mixedmodels.design.frame import ModelFrame
from mixedmodels.errors import ModelSpecError
from mixedmodels.lmm.model import LinearMixedModel

__all__ = ["LmmRecord"]


@dataclass(frozen=True, eq=False)
class LmmRecord(MixedModelResult):
    """The fields of a fitted linear mixed model and what is read from them alone: what the
    fit builds and what :mod:`mixedmodels.inference` evaluates.

    :func:`mixedmodels.lmm` hands it out as a :class:`~mixedmodels.lmm_result.LmmResult`,
    the same fields with the methods that test, refit, predict and summarize.

    The fields every fit has are :class:`~mixedmodels.core.result.MixedModelResult`'s; its
    ``objective`` is here the REML criterion (REML fits) or the deviance, -2 log L (ML
    fits).

    Attributes
    ----------
    reml : bool
        True for a REML fit, False for maximum likelihood.
    vcov_unscaled : numpy.ndarray
        ``(R_X'R_X)^{-1}``: times ``sigma**2`` the covariance of the fixed effects.
    sigma : float
        Residual standard deviation.
    data_label : str
        The data set's name, for summaries.
    model : LinearMixedModel
        The model at any theta.
    """

    reml: bool
    vcov_unscaled: np.ndarray
    sigma: float
    data_label: str
    _fitted: np.ndarray
    _residuals: np.ndarray
    model: LinearMixedModel
    """The model at any theta (objective, factorization, solutions): what inference,
    refits and the variance tests evaluate."""
    _tail_shapes: tuple[tuple[int, int], ...]
    _theta_map: ThetaMap
    # the design (rows used), for simulation and refits with a new response
    _frame: ModelFrame
    _layout: CovarianceLayout
    # where the rows live when they are not in memory (a mixedmodels.daskfit.DaskRows for
    # a fit to a Dask DataFrame): then _frame holds the design without rows, and fitted,
    # residuals and predict are lazy Dask series
    _rows: Any = None
    # the optimizer settings of the fit, which a refit uses again
    _settings: OptimizerSettings | None = None

    def __post_init__(self) -> None:
        for name in ("beta", "vcov_unscaled", "theta", "_fitted", "_residuals"):
            object.__setattr__(self, name, frozen_array(getattr(self, name)))

    def _vcov_array(self) -> np.ndarray:
        return np.asarray(self.sigma**2 * self.vcov_unscaled)

    @property
    def rows_in_memory(self) -> bool:
        """False for a fit to a Dask DataFrame: only its cross-product blocks were brought
        to this process, and what needs the rows (simulation, refits, profiles, type III
        tests) is not available."""
        return self._rows is None

    def _require_rows(self, what: str) -> None:
        """Raise a clear error when ``what`` needs rows this fit does not hold."""
        if self._rows is not None:
            raise ModelSpecError(
                f"{what} needs the model's rows in memory, but {self.formula!r} was fitted "
                "to a Dask DataFrame (only its cross-product blocks came to this process). "
                "Fit the same model to an in-memory pandas frame (ddf.compute(), or a "
                f"sample of it) for {what}; coef_table() (Satterthwaite or Kenward-Roger), "
                "summary(), confint(method='wald'), fitted, residuals and predict() work "
                "on this fit."
            )

    @property
    def n_params(self) -> int:
        """Number of estimated parameters: fixed effects, theta and sigma."""
        return len(self.beta) + len(self.theta) + 1

    # -- per row -------------------------------------------------------------------------
    @property
    def fitted(self) -> pd.Series:
        """Fitted values X beta + Z b (+ offset), aligned to the input rows (NaN where a row
        was dropped); a lazy Dask series for a fit to a Dask DataFrame."""
        if self._rows is not None:
            return self._rows.fitted(self)  # type: ignore[no-any-return]
        return pd.Series(np.array(self._fitted), index=self._index, name="fitted")

    def residuals(self, type: str = "response", scaled: bool = False) -> pd.Series:
        """Residuals aligned to the input rows, as lme4's ``residuals``: ``"response"``
        and ``"working"`` are y - fitted, ``"pearson"`` and ``"deviance"`` that times the
        square root of the prior weight; ``scaled=True`` divides by sigma. For a fit to a
        Dask DataFrame, the response residuals as a lazy Dask series."""
        kinds = ("response", "working", "pearson", "deviance")
        if type not in kinds:
            raise ValueError(f"type must be one of {', '.join(map(repr, kinds))}, not {type!r}")
        if self._rows is not None:
            if type not in ("response", "working") or scaled:
                raise ModelSpecError(
                    "a fit to a Dask DataFrame gives its response residuals only (lazily)"
                )
            return self._rows.residuals(self)  # type: ignore[no-any-return]
        values = np.array(self._residuals)
        weights = self._frame.weights
        if type in ("pearson", "deviance") and weights is not None:
            root = np.full(values.size, np.nan)
            root[self._frame.rows] = np.sqrt(weights)
            values = values * root
        if scaled:
            values = values / self.sigma
        return pd.Series(values, index=self._index, name="residuals")

    def __repr__(self) -> str:
        kind = "REML" if self.reml else "ML"
        return (
            f"<{type(self).__name__} {self.formula!r} ({kind}), nobs={self.nobs}, "
            f"objective={self.objective:.4f}>"
        )
