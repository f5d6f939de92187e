"""What LmmResult and GlmmResult share: read-only tables computed from their fields."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["FitTables", "RandomTables", "frozen_array"]


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


class FitTables:
    """Mixin for fitted models: fixed effects, likelihood criteria, random-effect tables.

    Subclasses are frozen dataclasses holding these fields and defining ``n_params`` and
    ``_vcov_array``.
    """

    fixed_names: tuple[str, ...]
    beta: np.ndarray
    objective: float
    nobs: int
    _tables: RandomTables
    _random_columns: dict[str, tuple[str, ...]]

    @property
    def n_params(self) -> int:
        """Number of estimated parameters."""
        raise NotImplementedError

    def _vcov_array(self) -> np.ndarray:
        raise NotImplementedError

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
        from mixedmodels.lmm.tables import coef_tables

        return coef_tables(self.beta, self.fixed_names, self._tables.ranef, self._random_columns)
