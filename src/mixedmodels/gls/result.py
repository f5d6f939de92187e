"""GlsResult: an immutable fit of :func:`mixedmodels.gls`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy

from mixedmodels.core.report import Report, Reportable, coefficient_cells, measure_cells
from mixedmodels.core.result import frozen_array
from mixedmodels.core.resulttable import ResultTable, ddf_caption, result_table
from mixedmodels.errors import ModelSpecError
from mixedmodels.gls.structures import describe
from mixedmodels.inference.dense_covariance import DenseCovariance, dense_pieces
from mixedmodels.inference.kenward_roger import KenwardRoger
from mixedmodels.inference.satterthwaite import SatterthwaitePieces

__all__ = ["GlsResult"]


@dataclass(frozen=True, eq=False)
class GlsResult(Reportable):
    """A generalized least-squares fit with residual structures.

    Attributes
    ----------
    formula, method : str
        The model and ``"REML"`` or ``"ML"``.
    beta : numpy.ndarray
    sigma : float
        The residual SD of the reference stratum (of a multiplier of 1).
    objective : float
        -2 log L (ML) or the REML criterion at the optimum.
    correlation_params, variance_params : dict
        The structures' parameters on nlme's natural scale.
    """

    formula: str
    method: str
    fixed_names: tuple[str, ...]
    beta: np.ndarray
    vcov_matrix: np.ndarray
    sigma: float
    objective: float
    nobs: int
    n_groups: int
    correlation_params: dict[str, float]
    variance_params: dict[str, float]
    correlation: Any
    variance: Any
    converged: bool
    message: str
    n_evaluations: int
    seconds: float
    _fitted: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    _y: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    _data: Any = field(repr=False, default=None)
    """The rows the model was fitted to (for a refit by the other criterion)."""
    _dense: Callable[[], DenseCovariance] | None = field(repr=False, default=None)
    """The marginal covariance as a function of SAS's parameters, for small-sample df."""

    def __post_init__(self) -> None:
        for name in ("beta", "vcov_matrix", "_fitted", "_y"):
            object.__setattr__(self, name, frozen_array(getattr(self, name)))

    @property
    def loglik(self) -> float:
        """The log-likelihood (restricted, for REML), as nlme's ``logLik``."""
        return -0.5 * self.objective

    @property
    def n_params(self) -> int:
        """Fixed effects, sigma and the structure parameters."""
        return len(self.beta) + 1 + len(self.correlation_params) + len(self.variance_params)

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        """BIC with nlme's number of observations (n - p under REML)."""
        n = self.nobs - len(self.beta) if self.method == "REML" else self.nobs
        return float(-2.0 * self.loglik + np.log(n) * self.n_params)

    @property
    def fixef(self) -> pd.Series:
        return pd.Series(np.array(self.beta), index=list(self.fixed_names), name="fixef")

    @property
    def std_errors(self) -> pd.Series:
        se = np.sqrt(np.diag(np.array(self.vcov_matrix)))
        return pd.Series(se, index=list(self.fixed_names), name="std_errors")

    @property
    def reml(self) -> bool:
        return self.method == "REML"

    def refit_ml(self) -> GlsResult:
        """The model fitted by maximum likelihood to the same rows (an ML fit is returned
        as it is)."""
        if not self.reml:
            return self
        from mixedmodels.gls.fit import gls

        return gls(
            self.formula,
            self._data,
            correlation=self.correlation,
            variance=self.variance,
            reml=False,
        )

    def _pieces(self) -> tuple[SatterthwaitePieces, KenwardRoger]:
        if "_cached_pieces" not in self.__dict__:
            assert self._dense is not None
            object.__setattr__(self, "_cached_pieces", dense_pieces(self._dense()))
        pieces: tuple[SatterthwaitePieces, KenwardRoger] = self.__dict__["_cached_pieces"]
        return pieces

    def coef_table(self, ddf: str = "residual") -> ResultTable:
        """t tests of the fixed effects.

        Parameters
        ----------
        ddf : {"residual", "satterthwaite", "kenward-roger"}
            ``n - p`` degrees of freedom, as nlme's; Satterthwaite's; or Kenward-Roger's
            with its adjusted standard errors (REML fits), as SAS PROC MIXED's
            ``ddfm=kr``, both in SAS's parameters (sigma^2 and the structures'
            natural ones) with the observed information.
        """
        beta = np.array(self.beta)
        p = beta.size
        if ddf == "residual":
            se = self.std_errors.to_numpy()
            df = np.full(p, float(self.nobs - p))
        elif ddf in ("satterthwaite", "kenward-roger"):
            if ddf == "kenward-roger" and self.method != "REML":
                raise ModelSpecError("Kenward-Roger is defined for REML fits; refit with reml=True")
            satterthwaite, kr = self._pieces()
            if ddf == "satterthwaite":
                se = np.sqrt(np.diag(satterthwaite.V))
                df = np.array([satterthwaite.df(np.eye(p)[i]) for i in range(p)])
            else:
                se = np.sqrt(np.diag(kr.Phi_A))
                df = np.array([kr.test(np.eye(p)[[i]], beta)[1] for i in range(p)])
        else:
            raise ValueError(
                f"ddf must be 'residual', 'satterthwaite' or 'kenward-roger', not {ddf!r}"
            )
        t = beta / se
        table = pd.DataFrame(
            {
                "estimate": beta,
                "std_error": se,
                "statistic": t,
                "df": df,
                "p_value": 2.0 * scipy.stats.t.sf(np.abs(t), df),
            },
            index=list(self.fixed_names),
        )
        return result_table(table, ddf_caption("t tests of the fixed effects", ddf))

    @property
    def fitted(self) -> pd.Series:
        return pd.Series(np.array(self._fitted), name="fitted")

    def residuals(self) -> pd.Series:
        """Response residuals ``y - X beta``."""
        return pd.Series(np.array(self._y) - np.array(self._fitted), name="residuals")

    def summary(self) -> str:
        """A text summary in the spirit of nlme's ``summary.gls``."""
        lines = [
            f"Generalized least squares fit by {self.method}",
            f"  Model: {self.formula}",
            f"  AIC {self.aic:.2f}  BIC {self.bic:.2f}  logLik {self.loglik:.3f}",
        ]
        lines += describe(
            self.correlation, self.correlation_params, self.variance, self.variance_params
        )
        lines.append("")
        lines.append(self.coef_table().to_string(float_format=lambda x: f"{x:.4g}"))
        lines.append("")
        lines.append(f"Residual standard error: {self.sigma:.4f}; {self.nobs} observations")
        return "\n".join(lines)

    def _report(self, digits: int) -> Report:
        structures = describe(
            self.correlation, self.correlation_params, self.variance, self.variance_params
        )
        sigma = f"Residual standard error: {self.sigma:.{digits}g}; {self.nobs} observations"
        criteria = {"AIC": self.aic, "BIC": self.bic, "logLik": self.loglik}
        tables = (
            ("Criteria", measure_cells(criteria, digits)),
            ("Coefficients (residual df)", coefficient_cells(self.coef_table(), "t", digits)),
        )
        return Report(
            f"Generalized least squares fit by {self.method}",
            self.formula,
            (*structures, sigma),
            tables,
        )

    def __repr__(self) -> str:
        return (
            f"<GlsResult {self.formula!r} ({self.method}), nobs={self.nobs}, "
            f"loglik={self.loglik:.4f}>"
        )
