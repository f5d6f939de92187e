"""GlmmResult: an immutable generalized linear mixed-model fit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from mixedmodels.core.result import MixedModelResult, frozen_array
from mixedmodels.core.tables import result_dict
from mixedmodels.glmm.family import Family, family
from mixedmodels.glmm.summary import summary_text

__all__ = ["GlmmResult"]


@dataclass(frozen=True, eq=False)
class GlmmResult(MixedModelResult):
    """A fitted generalized linear mixed model. Build it with :func:`mixedmodels.glmm`.

    Attributes
    ----------
    formula : str
    family : str
        R's name of the family (``"binomial"``, ``"poisson"``, ``"gaussian"``,
        ``"Gamma"``, ``"inverse.gaussian"``).
    link : str
    nagq : int
        0 (beta inside PIRLS), 1 (Laplace) or the number of adaptive Gauss-Hermite nodes.
    theta : numpy.ndarray
        Relative covariance parameters (lme4's order), here the random-effect standard
        deviations and Cholesky entries themselves (there is no residual scale).
    objective : float
        -2 log L at the optimum (the Laplace or quadrature approximation).
    vcov_source : str
        ``"hessian"`` (lme4's default: the Hessian of the deviance over theta and beta)
        or ``"pirls"`` (the weighted least-squares factor, when the Hessian is unusable).
    dispersion : float
        glmmTMB's ``sigma()``: ``sqrt(phi)`` for the families with a dispersion ``phi``
        (the residual SD of a gaussian, the coefficient of variation of a Gamma, and
        ``Var(y) = dispersion^2 mu^3`` for the inverse Gaussian); the size theta of a
        negative binomial (``Var(y) = mu + mu^2 / theta``); 1 for binomial and Poisson.
    """

    family: str
    link: str
    nagq: int
    vcov_matrix: np.ndarray
    vcov_source: str
    _eta: np.ndarray
    _y: np.ndarray
    _prior: np.ndarray
    dispersion: float = 1.0
    zi_names: tuple[str, ...] = ()
    zi_beta: np.ndarray = field(default_factory=lambda: np.zeros(0))
    zi_vcov: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def __post_init__(self) -> None:
        for name in ("beta", "vcov_matrix", "theta", "_eta", "_y", "_prior", "zi_beta", "zi_vcov"):
            object.__setattr__(self, name, frozen_array(getattr(self, name)))

    def _vcov_array(self) -> np.ndarray:
        return np.array(self.vcov_matrix)

    @property
    def zi_fixef(self) -> pd.Series:
        """The zero-inflation model's coefficients (logit of a structural zero)."""
        return pd.Series(np.array(self.zi_beta), index=list(self.zi_names), name="zi_fixef")

    @property
    def zi_std_errors(self) -> pd.Series:
        """Their standard errors (from the Hessian over every parameter)."""
        se = np.sqrt(np.diag(np.array(self.zi_vcov))) if len(self.zi_names) else np.zeros(0)
        return pd.Series(se, index=list(self.zi_names), name="zi_std_errors")

    @property
    def _family(self) -> Family:
        fam = family(self.family, self.link)
        return fam.with_dispersion(fam.dispersion_of_sigma(self.dispersion))

    # -- fixed effects ----------------------------------------------------------------
    def coef_table(self) -> pd.DataFrame:
        """Wald z tests of the fixed effects: estimate, std_error, statistic, p_value."""
        se = self.std_errors.to_numpy()
        z = self.beta / se
        return pd.DataFrame(
            {
                "estimate": self.beta,
                "std_error": se,
                "statistic": z,
                "p_value": 2.0 * stats.norm.sf(np.abs(z)),
            },
            index=list(self.fixed_names),
        )

    def zi_coef_table(self) -> pd.DataFrame:
        """Wald z tests of the zero-inflation coefficients (empty without ``zi=``)."""
        se = self.zi_std_errors.to_numpy()
        z = np.array(self.zi_beta) / se if se.size else se
        return pd.DataFrame(
            {
                "estimate": np.array(self.zi_beta),
                "std_error": se,
                "statistic": z,
                "p_value": 2.0 * stats.norm.sf(np.abs(z)),
            },
            index=list(self.zi_names),
        )

    # -- likelihood ---------------------------------------------------------------------
    @property
    def n_params(self) -> int:
        """Number of estimated parameters: fixed effects, theta and the dispersion."""
        return (
            len(self.beta) + len(self.theta) + int(self._family.has_dispersion) + len(self.zi_names)
        )

    # -- random effects -----------------------------------------------------------------
    # -- per row -------------------------------------------------------------------------
    def predict(self, type: str = "response") -> pd.Series:
        """Predictions for the fitted rows: ``"link"`` (eta) or ``"response"`` (mu).

        Rows dropped for missing values are NaN.
        """
        if type not in ("link", "response"):
            raise ValueError(f"type must be 'link' or 'response', not {type!r}")
        eta = np.array(self._eta)
        values = eta if type == "link" else self._mu()
        return pd.Series(values, index=self._index, name=type)

    def _mu(self) -> np.ndarray:
        eta = np.array(self._eta)
        out = np.full_like(eta, np.nan)
        ok = ~np.isnan(eta)
        out[ok] = self._family.linkinv(eta[ok])
        return out

    @property
    def fitted(self) -> pd.Series:
        """Fitted values on the response scale (probabilities or rates)."""
        return pd.Series(self._mu(), index=self._index, name="fitted")

    def residuals(self, type: str = "deviance") -> pd.Series:
        """Residuals: ``"deviance"`` (default, as lme4), ``"pearson"`` or ``"response"``."""
        mu = self._mu()
        y = np.array(self._y)
        ok = ~np.isnan(mu)
        out = np.full_like(mu, np.nan)
        fam = self._family
        if type == "response":
            out[ok] = y[ok] - mu[ok]
        elif type == "pearson":
            out[ok] = (y[ok] - mu[ok]) * np.sqrt(self._prior[ok] / fam.variance(mu[ok]))
        elif type == "deviance":
            d = fam.deviance_residuals(y[ok], mu[ok], self._prior[ok])
            out[ok] = np.sign(y[ok] - mu[ok]) * np.sqrt(np.maximum(d, 0.0))
        else:
            raise ValueError(f"type must be 'deviance', 'pearson' or 'response', not {type!r}")
        return pd.Series(out, index=self._index, name=f"{type}_residuals")

    # -- display -----------------------------------------------------------------------
    @property
    def method(self) -> str:
        """How the likelihood was approximated, in words."""
        if self.nagq == 0:
            return "Laplace approximation, beta inside PIRLS (nAGQ = 0)"
        if self.nagq == 1:
            return "Laplace approximation"
        return f"adaptive Gauss-Hermite quadrature, nAGQ = {self.nagq}"

    def summary(self) -> str:
        """A text summary with what lme4's ``summary`` of a glmer fit shows."""
        zero_inflation = self.zi_coef_table() if self.zi_names else None
        return summary_text(self, self._family, self.method, self.coef_table(), zero_inflation)

    def _repr_html_(self) -> str:
        table = self.coef_table().to_html(float_format=lambda x: f"{x:.4g}")
        vc = self._tables.varcorr.to_html(index=False, float_format=lambda x: f"{x:.4g}", na_rep="")
        return (
            f"<div><p><b>Generalized linear mixed model</b> ({self.family}, {self.link}; "
            f"{self.method}): <code>{self.formula}</code><br>nobs = {self.nobs}; "
            f"logLik = {self.loglik:.4f}</p><p><b>Random effects</b></p>{vc}"
            f"<p><b>Fixed effects</b></p>{table}</div>"
        )

    def __repr__(self) -> str:
        return (
            f"<GlmmResult {self.formula!r} ({self.family}, {self.link}, nagq={self.nagq}), "
            f"nobs={self.nobs}, loglik={self.loglik:.4f}>"
        )

    def to_dict(self) -> dict[str, Any]:
        """The results as plain JSON-ready Python values."""
        return {
            **result_dict(self),
            "family": self.family,
            "link": self.link,
            "nagq": self.nagq,
            "vcov_source": self.vcov_source,
            "dispersion": self.dispersion,
        }
