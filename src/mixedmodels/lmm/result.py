"""LmmResult: an immutable linear mixed-model fit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels.lmm.optimize import OptInfo

__all__ = ["LmmResult"]


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class LmmResult:
    """A fitted linear mixed model. Build it with :func:`mixedmodels.lmm`.

    Attributes
    ----------
    formula : str
    reml : bool
        True for a REML fit, False for maximum likelihood.
    theta : numpy.ndarray
        Relative covariance parameters, lme4's order (see ``theta_names``).
    sigma : float
        Residual standard deviation.
    objective : float
        REML criterion (REML fits) or deviance, -2 log L (ML fits).
    nobs : int
        Rows used in the fit.
    n_dropped : int
        Input rows dropped for missing values.
    ngroups : dict
        Number of levels of each grouping factor.
    is_singular : bool
        True when the fit is on the boundary (a zero variance or a +-1 correlation).
    singular_terms : tuple of str
        What lies on the boundary, in words.
    optinfo : OptInfo
    aliased : tuple of str
        Fixed-effect columns dropped as linear combinations of others.
    """

    formula: str
    reml: bool
    fixed_names: tuple[str, ...]
    beta: np.ndarray
    vcov_unscaled: np.ndarray
    theta: np.ndarray
    theta_names: tuple[str, ...]
    sigma: float
    objective: float
    nobs: int
    n_dropped: int
    ngroups: dict[str, int]
    is_singular: bool
    singular_terms: tuple[str, ...]
    optinfo: OptInfo
    aliased: tuple[str, ...]
    data_label: str
    _varcorr: pd.DataFrame
    _ranef: pd.DataFrame
    _fitted: np.ndarray
    _residuals: np.ndarray
    _index: pd.Index
    _random_columns: dict[str, tuple[str, ...]]

    def __post_init__(self) -> None:
        for name in ("beta", "vcov_unscaled", "theta", "_fitted", "_residuals"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    # -- fixed effects ----------------------------------------------------------------
    @property
    def fixef(self) -> pd.Series:
        """Fixed-effect estimates, indexed by column name."""
        return pd.Series(np.array(self.beta), index=list(self.fixed_names), name="fixef")

    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the fixed-effect estimates."""
        names = list(self.fixed_names)
        return pd.DataFrame(self.sigma**2 * self.vcov_unscaled, index=names, columns=names)

    @property
    def std_errors(self) -> pd.Series:
        """Standard errors of the fixed effects."""
        return pd.Series(
            self.sigma * np.sqrt(np.diag(self.vcov_unscaled)), index=list(self.fixed_names)
        )

    # -- likelihood ---------------------------------------------------------------------
    @property
    def n_params(self) -> int:
        """Number of estimated parameters: fixed effects, theta and sigma."""
        return len(self.beta) + len(self.theta) + 1

    @property
    def loglik(self) -> float:
        """Log-likelihood (the REML log-likelihood for REML fits, as lme4's ``logLik``)."""
        return -0.5 * self.objective

    @property
    def aic(self) -> float:
        """Akaike's information criterion."""
        return -2.0 * self.loglik + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        """Bayesian information criterion."""
        return float(-2.0 * self.loglik + np.log(self.nobs) * self.n_params)

    # -- random effects -----------------------------------------------------------------
    @property
    def varcorr(self) -> pd.DataFrame:
        """Variance components: the rows of lme4's ``as.data.frame(VarCorr(m))``.

        Columns ``group, term1, term2, variance, sd_cor``; ``term2`` is None on variance
        rows; correlation rows carry the covariance in ``variance`` and the correlation in
        ``sd_cor``; the ``Residual`` row is last.
        """
        return self._varcorr.copy()

    def ranef(self) -> pd.DataFrame:
        """Conditional modes of the random effects with their conditional SDs.

        Returns a tidy table with columns ``group, term, level, value, cond_sd``.
        """
        return self._ranef.copy()

    def coef(self) -> dict[str, pd.DataFrame]:
        """Per-level coefficients: fixed effects plus each level's random effects.

        Returns one table per grouping factor (levels as rows), as lme4's ``coef``.
        """
        from mixedmodels.lmm.tables import coef_tables

        return coef_tables(self.beta, self.fixed_names, self._ranef, self._random_columns)

    # -- per row -------------------------------------------------------------------------
    @property
    def fitted(self) -> pd.Series:
        """Fitted values X beta + Z b (+ offset), aligned to the input rows (NaN where a row
        was dropped)."""
        return pd.Series(np.array(self._fitted), index=self._index, name="fitted")

    @property
    def residuals(self) -> pd.Series:
        """Response residuals y - fitted, aligned to the input rows."""
        return pd.Series(np.array(self._residuals), index=self._index, name="residuals")

    # -- display -----------------------------------------------------------------------
    def summary(self) -> str:
        """A text summary with what lme4's ``summary`` shows."""
        from mixedmodels.lmm.summary import summary_text

        return summary_text(self)

    def __repr__(self) -> str:
        kind = "REML" if self.reml else "ML"
        return (
            f"<LmmResult {self.formula!r} ({kind}), nobs={self.nobs}, "
            f"objective={self.objective:.4f}>"
        )

    def _repr_html_(self) -> str:
        from mixedmodels.lmm.summary import summary_html

        return summary_html(self)

    def to_dict(self) -> dict[str, Any]:
        """The results as plain JSON-ready Python values."""
        from mixedmodels.lmm.tables import result_dict

        return {**result_dict(self), "reml": self.reml, "sigma": self.sigma}
