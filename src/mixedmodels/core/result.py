"""The result base that LmmResult and GlmmResult share, and the read-only tables computed
from its fields."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels.core.optinfo import OptInfo
from mixedmodels.core.report import Reportable

__all__ = ["MixedModelResult", "RandomTables", "frozen_array"]


def frozen_array(a: np.ndarray) -> np.ndarray:
    """A read-only float64 copy."""
    out = np.array(a, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


class RandomTables:
    """A fit's variance-component and conditional-mode tables, each built when first read.

    Building the two data frames costs more than fitting a small model, and the refits of
    a bootstrap or a simulation never read them. Pickling (to other processes) builds
    them, so only data frames travel.

    Parameters
    ----------
    varcorr, ranef : callable or pandas.DataFrame
        The tables, or functions of no arguments that build them.
    """

    def __init__(
        self,
        varcorr: Callable[[], pd.DataFrame] | pd.DataFrame,
        ranef: Callable[[], pd.DataFrame] | pd.DataFrame,
    ) -> None:
        self._sources: dict[str, Callable[[], pd.DataFrame] | pd.DataFrame] = {
            "varcorr": varcorr,
            "ranef": ranef,
        }

    def _get(self, name: str) -> pd.DataFrame:
        source = self._sources[name]
        if not isinstance(source, pd.DataFrame):
            source = source()
            self._sources[name] = source
        return source

    @property
    def varcorr(self) -> pd.DataFrame:
        """lme4's ``as.data.frame(VarCorr(m))`` (not to be modified: callers copy it)."""
        return self._get("varcorr")

    @property
    def ranef(self) -> pd.DataFrame:
        """lme4's ``as.data.frame(ranef(m, condVar = TRUE))`` (not to be modified)."""
        return self._get("ranef")

    def __getstate__(self) -> dict[str, pd.DataFrame]:
        return {"varcorr": self.varcorr, "ranef": self.ranef}

    def __setstate__(self, state: dict[str, pd.DataFrame]) -> None:
        self._sources = dict(state)


@dataclass(frozen=True, eq=False)
class MixedModelResult(Reportable):
    """What every fitted mixed model holds: the fixed and covariance parameters, the
    criterion, the design's sizes, the optimizer's record, and the tables read from them.

    Subclasses (:class:`~mixedmodels.lmm.record.LmmRecord`, which the user-facing
    :class:`~mixedmodels.lmm_result.LmmResult` extends, and
    :class:`~mixedmodels.glmm.result.GlmmResult`) add their own fields and define
    ``n_params`` and ``_vcov_array``, and ``_report``, from which
    :class:`~mixedmodels.core.report.Reportable` renders ``to_markdown``, ``to_latex``
    and the notebook view.

    Attributes
    ----------
    formula : str
    fixed_names : tuple of str
        Names of the fixed-effect columns (``beta``'s order).
    beta : numpy.ndarray
        Fixed-effect estimates.
    theta : numpy.ndarray
        Relative covariance parameters, lme4's order (see ``theta_names``).
    theta_names : tuple of str
    objective : float
        The criterion at the optimum: REML criterion or deviance (-2 log L) for an LMM,
        -2 log L of the Laplace or quadrature approximation for a GLMM.
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
    fixed_names: tuple[str, ...]
    beta: np.ndarray
    theta: np.ndarray
    theta_names: tuple[str, ...]
    objective: float
    nobs: int
    n_dropped: int
    ngroups: dict[str, int]
    is_singular: bool
    singular_terms: tuple[str, ...]
    optinfo: OptInfo
    aliased: tuple[str, ...]
    _tables: RandomTables
    _index: pd.Index
    _random_columns: dict[str, tuple[str, ...]]

    def simulated_residuals(
        self, n: int = 250, seed: int | np.random.Generator | None = None
    ) -> Any:
        """Simulated quantile residuals (DHARMa's method) with their uniformity,
        dispersion, zero-inflation and outlier tests and plots; see
        :func:`mixedmodels.checks.simulated_residuals`."""
        from mixedmodels.checks import simulated_residuals

        return simulated_residuals(self, n, seed)

    def save(self, path: Any) -> None:
        """Write the fit to ``path`` (a zip archive of JSON and numpy arrays, no pickle;
        :mod:`mixedmodels.saved.archive`); :func:`mixedmodels.load` reads it back, to the
        bit, without the original data."""
        from mixedmodels.saved import save_fit

        save_fit(self, path)

    @property
    def n_params(self) -> int:
        """Number of estimated parameters."""
        raise NotImplementedError

    def _vcov_array(self) -> np.ndarray:
        raise NotImplementedError

    @property
    def df_residual(self) -> int:
        """lme4's ``df.residual``: observations less estimated parameters."""
        return int(self.nobs - self.n_params)

    @property
    def fixef(self) -> pd.Series:
        """Fixed-effect estimates, indexed by column name."""
        return pd.Series(np.array(self.beta), index=list(self.fixed_names), name="fixef")

    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the fixed-effect estimates."""
        names = list(self.fixed_names)
        return pd.DataFrame(self._vcov_array(), index=names, columns=names)

    @property
    def std_errors(self) -> pd.Series:
        """Standard errors of the fixed effects."""
        return pd.Series(np.sqrt(np.diag(self._vcov_array())), index=list(self.fixed_names))

    @property
    def loglik(self) -> float:
        """Log-likelihood: -objective / 2 (the REML log-likelihood for REML fits)."""
        return -0.5 * self.objective

    @property
    def aic(self) -> float:
        """Akaike's information criterion."""
        return float(self.objective + 2.0 * self.n_params)

    @property
    def bic(self) -> float:
        """Bayesian information criterion."""
        return float(self.objective + np.log(self.nobs) * self.n_params)

    @property
    def varcorr(self) -> pd.DataFrame:
        """Variance components: the rows of lme4's ``as.data.frame(VarCorr(m))``.

        Columns ``group, term1, term2, variance, sd_cor``; ``term2`` is None on variance
        rows; correlation rows carry the covariance in ``variance`` and the correlation in
        ``sd_cor``; an LMM's ``Residual`` row is last.
        """
        return self._tables.varcorr.copy()

    def ranef(self) -> pd.DataFrame:
        """Conditional modes with conditional SDs: ``group, term, level, value, cond_sd``."""
        return self._tables.ranef.copy()

    def coef(self) -> dict[str, pd.DataFrame]:
        """Per-level coefficients (fixed effects plus each level's modes), one table per
        grouping factor, as lme4's ``coef``."""
        from mixedmodels.core.tables import coef_tables

        return coef_tables(self.beta, self.fixed_names, self._tables.ranef, self._random_columns)
