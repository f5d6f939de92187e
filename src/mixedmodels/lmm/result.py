"""LmmResult: an immutable linear mixed-model fit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels.core.covariance import CovarianceLayout, ThetaMap
from mixedmodels.core.optimize import OptimizerSettings
from mixedmodels.core.result import MixedModelResult, frozen_array
from mixedmodels.design.frame import ModelFrame
from mixedmodels.errors import ModelSpecError
from mixedmodels.lmm.model import LinearMixedModel

__all__ = ["LmmResult"]


@dataclass(frozen=True, eq=False)
class LmmResult(MixedModelResult):
    """A fitted linear mixed model. Build it with :func:`mixedmodels.lmm`.

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
        to this process, and what needs the rows (simulation, refits, Kenward-Roger,
        profiles, type III tests) is not available."""
        return self._rows is None

    def _require_rows(self, what: str) -> None:
        """Raise a clear error when ``what`` needs rows this fit does not hold."""
        if self._rows is not None:
            raise ModelSpecError(
                f"{what} needs the model's rows in memory, but {self.formula!r} was fitted "
                "to a Dask DataFrame (only its cross-product blocks came to this process). "
                "Fit the same model to an in-memory pandas frame (ddf.compute(), or a "
                f"sample of it) for {what}; coef_table() (Satterthwaite), summary(), "
                "confint(method='wald'), fitted, residuals and predict() work on this fit."
            )

    # -- fixed effects ----------------------------------------------------------------
    # -- likelihood ---------------------------------------------------------------------
    @property
    def n_params(self) -> int:
        """Number of estimated parameters: fixed effects, theta and sigma."""
        return len(self.beta) + len(self.theta) + 1

    # -- random effects -----------------------------------------------------------------
    # -- inference ---------------------------------------------------------------------
    def coef_table(self, ddf: str = "satterthwaite", level: float = 0.95) -> pd.DataFrame:
        """t tests of the fixed effects with a confidence interval for each.

        Parameters
        ----------
        ddf : {"satterthwaite", "kenward-roger", "residual", "normal"}
            Denominator degrees of freedom: Satterthwaite's approximation (lmerTest's
            default), Kenward-Roger's (with its adjusted standard errors, as pbkrtest;
            REML fits of up to 5,000 rows), ``nobs - p`` (``"residual"``), or none
            (Wald z, ``"normal"``).
        level : float
            Confidence level of the intervals.

        Returns
        -------
        pandas.DataFrame
            Columns ``estimate, std_error, df, statistic, p_value, lower, upper``.
        """
        from scipy import stats

        from mixedmodels.inference import VarianceFunctions, satterthwaite_t

        if not 0 < level < 1:
            raise ValueError(f"level must lie strictly between 0 and 1, not {level!r}")
        se = np.sqrt(np.diag(self._vcov_array()))
        if ddf == "satterthwaite":
            df = satterthwaite_t(VarianceFunctions(self), self.beta)["df"]
        elif ddf == "kenward-roger":
            from mixedmodels.inference.kenward_roger import kenward_roger_t

            kr = kenward_roger_t(self)
            se, df = kr["std_error"], kr["df"]  # the adjusted covariance's SEs
        elif ddf == "residual":
            df = np.full(self.beta.size, float(self.nobs - self.beta.size))
        elif ddf == "normal":
            df = np.full(self.beta.size, np.inf)
        else:
            raise ValueError(
                f"ddf must be 'satterthwaite', 'kenward-roger', 'residual' or 'normal', not {ddf!r}"
            )
        t = self.beta / se
        q = stats.t.ppf(0.5 + level / 2, df)
        return pd.DataFrame(
            {
                "estimate": self.beta,
                "std_error": se,
                "df": df,
                "statistic": t,
                "p_value": 2.0 * stats.t.sf(np.abs(t), df),
                "lower": self.beta - q * se,
                "upper": self.beta + q * se,
            },
            index=list(self.fixed_names),
        )

    def anova(self, ddf: str = "satterthwaite") -> pd.DataFrame:
        """Type III F tests of each fixed-effect term (lmerTest's ``anova``), with
        ``ddf="satterthwaite"`` or ``"kenward-roger"``: columns ``numdf, dendf, F,
        p_value``."""
        from mixedmodels.inference.type3 import type3_anova

        return type3_anova(self, ddf)

    def confint(
        self,
        method: str = "profile",
        level: float = 0.95,
        n_boot: int = 1000,
        seed: int | None = None,
        n_jobs: int = 1,
    ) -> pd.DataFrame:
        """Confidence intervals for every SD, correlation, sigma and fixed effect.

        Parameters
        ----------
        method : {"profile", "wald", "boot"}
            Profile likelihood (lme4's default; the ML deviance, as lme4), Wald (normal
            quantiles; fixed effects only, the variance rows are NaN as in lme4), or
            percentile intervals of a parametric bootstrap of ``n_boot`` replicates.
        level : float

        Returns
        -------
        pandas.DataFrame
            ``lower`` and ``upper``, indexed by lme4's names (``sd_(Intercept)|Subject``,
            ``cor_Days.(Intercept)|Subject``, ``sigma``, then the fixed effects).
        """
        from scipy import stats

        from mixedmodels.inference.bootstrap import bootstrap
        from mixedmodels.inference.profile import (
            lme4_order,
            profile_intervals,
            variance_parameter_names,
        )

        if not 0 < level < 1:
            raise ValueError(f"level must lie strictly between 0 and 1, not {level!r}")
        if method == "profile":
            return profile_intervals(self, level)
        names = lme4_order(variance_parameter_names(self))
        if method == "wald":
            z = float(stats.norm.ppf(0.5 + level / 2))
            se = np.sqrt(np.diag(self._vcov_array()))
            lower = [np.nan] * len(names) + list(self.beta - z * se)
            upper = [np.nan] * len(names) + list(self.beta + z * se)
        elif method == "boot":
            boot = bootstrap(self, n=n_boot, seed=seed, n_jobs=n_jobs)
            table = boot.intervals(level)
            keys = [n for n in names if n != "sigma"]
            order = keys[:0] + names
            lower = [table.loc[n, "lower"] for n in order] + [
                table.loc[n, "lower"] for n in self.fixed_names
            ]
            upper = [table.loc[n, "upper"] for n in order] + [
                table.loc[n, "upper"] for n in self.fixed_names
            ]
        else:
            raise ValueError(f"method must be 'profile', 'wald' or 'boot', not {method!r}")
        index = pd.Index(names + list(self.fixed_names), name="name")
        return pd.DataFrame({"lower": lower, "upper": upper}, index=index)

    def profile(self, level: float = 0.99) -> pd.DataFrame:
        """Profile traces for plotting: ``name, value, zeta`` for every SD, correlation,
        sigma and fixed effect, out to the ``level`` profile interval (lme4's
        ``profile``; the ML deviance, as lme4)."""
        from mixedmodels.inference.profile import profile_traces

        return profile_traces(self, level)

    def predict(
        self, newdata: Any = None, re: bool = True, allow_new_levels: bool = False
    ) -> pd.Series:
        """Predictions: ``X beta (+ Z b) (+ offset)``.

        Parameters
        ----------
        newdata : DataFrame, dict of arrays or Dask DataFrame, optional
            Encoded exactly as the training data (same factor levels and transforms);
            without it, the fitted values. A Dask DataFrame gives a lazy Dask series.
        re : bool
            Include each group's conditional modes (False: the population prediction).
        allow_new_levels : bool
            Predict groups not seen in the fit at the population level; otherwise such
            levels are an error that names them.
        """
        from mixedmodels._data import is_dask_dataframe

        if newdata is None:
            if re:
                return self.fitted.rename("predicted")
            newdata = self._frame.data if self._rows is None else self._rows.data
        if is_dask_dataframe(newdata):
            from mixedmodels.lmm.predict import predict_lazy

            return predict_lazy(self, newdata, re, allow_new_levels)  # type: ignore[no-any-return]
        from mixedmodels.lmm.predict import predict_new

        return predict_new(self, newdata, re, allow_new_levels)

    # -- simulation ----------------------------------------------------------------------
    def simulate(
        self,
        n: int = 1,
        seed: int | np.random.Generator | np.random.SeedSequence | None = None,
        re: str = "new",
    ) -> np.ndarray:
        """Responses simulated from the fitted model, one column per simulation.

        Parameters
        ----------
        n : int
            Number of simulated response vectors.
        seed : int, Generator or SeedSequence
            The only source of randomness: the same seed gives the same responses.
        re : {"new", "conditional"}
            Draw new random effects from their fitted distribution, or keep the
            conditional modes (only the residuals are new).

        Returns
        -------
        numpy.ndarray
            ``(nobs, n)``, rows in the order of the rows used in the fit.
        """
        from mixedmodels.lmm.simulate import simulate_responses

        self._require_rows("simulate()")
        return simulate_responses(self, n, np.random.default_rng(seed), re)

    def refit(self, y: Any) -> LmmResult:
        """The same model fitted to a new response: one value per row used in the fit, in
        their order (``simulate()`` gives such vectors).

        Only the blocks with the response in them (``Z'Wy``, ``X'Wy``, ``y'Wy``) are formed
        again; the formula, the frame, the weights and offset and the other cross-products
        are this fit's. The optimizer starts from this fit's theta (as lme4's ``refit``) with
        this fit's settings, and reaches the optimum that :func:`mixedmodels.lmm` finds on
        the data with that response, except that no warnings are issued: its
        ``is_singular`` and ``optinfo`` say what they would.

        Raises
        ------
        DataError
            If ``y`` is not ``nobs`` finite numbers.
        ModelSpecError
            For a fit to a Dask DataFrame (its rows are not in this process).
        """
        from mixedmodels.lmm.refit import check_response, refit_response

        self._require_rows("refit()")
        return refit_response(self, check_response(y, self.nobs, self.n_dropped))

    # -- per row -------------------------------------------------------------------------
    @property
    def fitted(self) -> pd.Series:
        """Fitted values X beta + Z b (+ offset), aligned to the input rows (NaN where a row
        was dropped); a lazy Dask series for a fit to a Dask DataFrame."""
        if self._rows is not None:
            return self._rows.fitted(self)  # type: ignore[no-any-return]
        return pd.Series(np.array(self._fitted), index=self._index, name="fitted")

    @property
    def residuals(self) -> pd.Series:
        """Response residuals y - fitted, aligned to the input rows; a lazy Dask series
        for a fit to a Dask DataFrame."""
        if self._rows is not None:
            return self._rows.residuals(self)  # type: ignore[no-any-return]
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
        from mixedmodels.core.tables import result_dict

        return {**result_dict(self), "reml": self.reml, "sigma": self.sigma}
