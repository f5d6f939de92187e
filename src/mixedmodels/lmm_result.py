"""LmmResult: what :func:`mixedmodels.lmm` returns, a fit's record with the methods that
test, refit, predict and summarize it.

The fields are :class:`~mixedmodels.lmm.record.LmmRecord`'s, which stands below
:mod:`mixedmodels.inference` so that inference can read them; this class stands above both
and adds only methods.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from mixedmodels._data import is_dask_dataframe
from mixedmodels.core.optinfo import OptimizerSettings
from mixedmodels.core.report import Report
from mixedmodels.core.resulttable import ResultTable, ddf_caption, result_table
from mixedmodels.core.tables import result_dict, t_table
from mixedmodels.design.update import update_inputs, updated_formula
from mixedmodels.errors import ModelSpecError
from mixedmodels.inference.intervals import wald_or_boot_intervals
from mixedmodels.inference.kenward_roger import kenward_roger_t
from mixedmodels.inference.profile import (
    profile_intervals,
    profile_traces,
)
from mixedmodels.inference.satterthwaite import satterthwaite_t
from mixedmodels.inference.type3 import type3_anova
from mixedmodels.inference.varpar import VarianceFunctions
from mixedmodels.lmm.predict import predict_lazy, predict_new
from mixedmodels.lmm.record import LmmRecord
from mixedmodels.lmm.refit import check_response, refit_response
from mixedmodels.lmm.simulate import simulate_responses
from mixedmodels.lmm.summary import summary_report, summary_text

__all__ = ["LmmResult"]


class LmmResult(LmmRecord):
    """A fitted linear mixed model. Build it with :func:`mixedmodels.lmm`.

    Its fields are :class:`~mixedmodels.lmm.record.LmmRecord`'s (and, among them, those of
    every fit, :class:`~mixedmodels.core.result.MixedModelResult`'s): ``beta``, ``theta``,
    ``sigma``, ``objective``, ``model``, ... It adds no field, only the methods below.
    """

    @classmethod
    def of(cls, record: LmmRecord) -> LmmResult:
        """The result of a fit's record: the same fields, shared and not copied (the
        record's arrays are frozen already)."""
        result = object.__new__(cls)
        result.__dict__.update(vars(record))
        return result

    # -- inference ---------------------------------------------------------------------
    def coef_table(self, ddf: str = "satterthwaite", level: float = 0.95) -> ResultTable:
        """t tests of the fixed effects with a confidence interval for each.

        Parameters
        ----------
        ddf : {"satterthwaite", "kenward-roger", "residual", "normal"}
            Denominator degrees of freedom: Satterthwaite's approximation (lmerTest's
            default), Kenward-Roger's (with its adjusted standard errors, as pbkrtest;
            REML fits of up to 5,000 random effects), ``nobs - p`` (``"residual"``), or
            none (Wald z, ``"normal"``).
        level : float
            Confidence level of the intervals.

        Returns
        -------
        ResultTable
            A data frame with columns ``estimate, std_error, df, statistic, p_value,
            lower, upper`` (and ``to_markdown``, ``to_latex`` for reports).
        """
        if not 0 < level < 1:
            raise ValueError(f"level must lie strictly between 0 and 1, not {level!r}")
        se = np.sqrt(np.diag(self._vcov_array()))
        if ddf == "satterthwaite":
            df = satterthwaite_t(VarianceFunctions(self), self.beta)["df"]
        elif ddf == "kenward-roger":
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
        table = t_table(self.beta, se, df, self.fixed_names, level)
        return result_table(table, ddf_caption("t tests of the fixed effects", ddf))

    def anova(self, ddf: str = "satterthwaite") -> ResultTable:
        """Type III F tests of each fixed-effect term (lmerTest's ``anova``), with
        ``ddf="satterthwaite"`` or ``"kenward-roger"``: a :class:`ResultTable` with
        columns ``numdf, dendf, F, p_value``."""
        return result_table(type3_anova(self, ddf), ddf_caption("Type III F tests", ddf))

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
        if not 0 < level < 1:
            raise ValueError(f"level must lie strictly between 0 and 1, not {level!r}")
        if method == "profile":
            return profile_intervals(self, level)
        if method not in ("wald", "boot"):
            raise ValueError(f"method must be 'profile', 'wald' or 'boot', not {method!r}")
        return wald_or_boot_intervals(self, method, level, n_boot, seed, n_jobs)

    def profile(self, level: float = 0.99) -> pd.DataFrame:
        """Profile traces for plotting: ``name, value, zeta`` for every SD, correlation,
        sigma and fixed effect, out to the ``level`` profile interval (lme4's
        ``profile``; the ML deviance, as lme4)."""
        return profile_traces(self, level)

    def predict(
        self,
        newdata: Any = None,
        re: bool = True,
        allow_new_levels: bool = False,
        re_form: Any = None,
        *,
        type: str = "response",
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
        re_form : str, optional
            lme4's ``re.form``: the random-effect terms to condition on, as a one-sided
            formula (``"~ (1 | plate)"``), or ``"NA"`` / ``"~0"`` for none; default all
            (with ``re=True``).
        type : {"response", "link"}
            As a GLMM's (:meth:`mixedmodels.GlmmResult.predict`); an LMM's identity link
            makes them the same.
        """
        if type not in ("response", "link"):
            raise ValueError(f"type must be 'response' or 'link' for an LMM, not {type!r}")
        if isinstance(newdata, str):
            raise ModelSpecError(
                f"predict's first argument is the new data, not {newdata!r}; pass the "
                "type by name: predict(type='link')"
            )
        if newdata is None:
            if re and re_form is None:
                return self.fitted.rename("predicted")
            newdata = self._frame.data if self._rows is None else self._rows.data
        if is_dask_dataframe(newdata):
            if re_form is not None:
                raise ModelSpecError("re_form is not available for Dask data; use re=False")
            return predict_lazy(self, newdata, re, allow_new_levels)  # type: ignore[no-any-return]
        return predict_new(self, newdata, re, allow_new_levels, re_form)

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
        self._require_rows("refit()")
        response = check_response(y, self.nobs, self.n_dropped)
        return LmmResult.of(refit_response(self, response))

    def update(
        self, formula: str | None = None, *, data: Any = None, reml: bool | None = None
    ) -> LmmResult:
        """This model fitted again with some of its arguments changed, as lme4's
        ``update``: a new ``formula`` (``". ~ . + x"`` keeps the response and adds to
        the right-hand side), other ``data``, or the other criterion; the weights,
        offset and optimizer settings are kept (with other data, an offset column is
        read from it; prior weights, or an offset given as values, are refused)."""
        from mixedmodels.fitting import lmm

        self._require_rows("update()")
        text = updated_formula(self.formula, formula)
        inputs = update_inputs(self._frame, text, data)
        return lmm(
            text,
            inputs.data,
            reml=self.reml if reml is None else reml,
            weights=inputs.weights,
            offset=inputs.offset,
            settings=self._settings,
            names=self._frame.name_style,
            functions=self._frame.functions,
        )

    @property
    def deviance(self) -> float:
        """-2 log L by maximum likelihood at this fit's theta (lme4's
        ``deviance(m, REML = FALSE)``): ``-2 * loglik`` for an ML fit; for a REML fit
        the ML deviance at the REML estimates (its REML criterion is
        :attr:`reml_criterion`)."""
        if not self.reml:
            return float(self.objective)
        return float(self.model.objective(self.theta, reml=False) - self.model.sum_log_weights)

    @property
    def reml_criterion(self) -> float:
        """lme4's ``REMLcrit``: the REML criterion at the optimum of a REML fit."""
        if not self.reml:
            raise ModelSpecError(
                "an ML fit has no REML criterion at its optimum (refit with reml=True)"
            )
        return float(self.objective)

    def refit_ml(self) -> LmmResult:
        """This model fitted by maximum likelihood (lme4's ``refitML``) from the rows the
        fit holds, with its weights, offset and optimizer settings, started from its
        theta; an ML fit is returned as it is."""
        if not self.reml:
            return self
        self._require_rows("refit_ml()")
        from mixedmodels.lmm.fit import fit_frame

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            record = fit_frame(
                self._frame,
                self._layout,
                False,
                self._settings or OptimizerSettings(),
                self._index,
                self.data_label,
                start=self.theta,
            )
        return LmmResult.of(record)

    # -- display -----------------------------------------------------------------------
    def _summary_coefficients(self) -> pd.DataFrame | None:
        """The Satterthwaite t tests that summaries show (as lmerTest prints them), or
        None when they cannot be computed (the summaries then show Wald t values)."""
        try:
            return self.coef_table(ddf="satterthwaite")
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            return None

    def summary(self) -> str:
        """A text summary with what lme4's ``summary`` shows."""
        return summary_text(self, self._summary_coefficients())

    def _report(self, digits: int) -> Report:
        return summary_report(self, self._summary_coefficients(), digits)

    def to_dict(self) -> dict[str, Any]:
        """The results as plain JSON-ready Python values."""
        return {**result_dict(self), "reml": self.reml, "sigma": self.sigma}
