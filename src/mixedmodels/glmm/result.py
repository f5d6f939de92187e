"""GlmmResult: an immutable generalized linear mixed-model fit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy

from mixedmodels.core.report import Report
from mixedmodels.core.result import MixedModelResult, frozen_array
from mixedmodels.core.resulttable import ResultTable, result_table
from mixedmodels.core.tables import result_dict
from mixedmodels.errors import ModelSpecError
from mixedmodels.glmm.family import Family, family
from mixedmodels.glmm.summary import summary_report, summary_text

if TYPE_CHECKING:
    from mixedmodels.glmm.model import GlmmModel

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
    dispersion : float or numpy.ndarray
        glmmTMB's ``sigma()``: ``sqrt(phi)`` for the families with a dispersion ``phi``
        (the residual SD of a gaussian, the coefficient of variation of a Gamma, and
        ``Var(y) = dispersion^2 mu^3`` for the inverse Gaussian); the size theta of a
        negative binomial (``Var(y) = mu + mu^2 / theta``), nbinom1's phi
        (``Var(y) = mu (1 + phi)``) and a beta's precision; 1 for binomial and Poisson.
        Under a dispersion model (``dispersion="~ x"``) one value per row of the data
        (NaN for rows dropped for missing values).
    """

    family: str
    link: str
    nagq: int
    vcov_matrix: np.ndarray
    vcov_source: str
    _eta: np.ndarray
    _y: np.ndarray
    _prior: np.ndarray
    dispersion: float | np.ndarray = 1.0
    zi_names: tuple[str, ...] = ()
    zi_beta: np.ndarray = field(default_factory=lambda: np.zeros(0))
    zi_vcov: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    _zi_eta: np.ndarray = field(default_factory=lambda: np.zeros(0))
    disp_names: tuple[str, ...] = ()
    disp_beta: np.ndarray = field(default_factory=lambda: np.zeros(0))
    disp_vcov: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    _model: GlmmModel | None = field(default=None, repr=False)
    """The model fitted (to fit it again to another response)."""

    def __post_init__(self) -> None:
        arrays = ["beta", "vcov_matrix", "theta", "_eta", "_y", "_prior", "zi_beta", "zi_vcov"]
        arrays += ["disp_beta", "disp_vcov", "_zi_eta"]
        if np.ndim(self.dispersion):
            arrays.append("dispersion")
        for name in arrays:
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
    def disp_fixef(self) -> pd.Series:
        """The dispersion model's coefficients (log of the family's dispersion parameter;
        empty without ``dispersion=``)."""
        return pd.Series(np.array(self.disp_beta), index=list(self.disp_names), name="disp_fixef")

    @property
    def disp_std_errors(self) -> pd.Series:
        """Their standard errors (from the Hessian over every parameter)."""
        se = np.sqrt(np.diag(np.array(self.disp_vcov))) if len(self.disp_names) else np.zeros(0)
        return pd.Series(se, index=list(self.disp_names), name="disp_std_errors")

    @property
    def _family(self) -> Family:
        """The family at the fit's dispersion, in every row of the data."""
        fam = family(self.family, self.link)
        return fam.with_dispersion(fam.dispersion_of_sigma(np.array(self.dispersion)))

    def _family_at(self, rows: np.ndarray) -> Family:
        """The family at the dispersion of the data's rows ``rows`` (a mask)."""
        fam = family(self.family, self.link)
        sigma = np.array(self.dispersion)
        return fam.with_dispersion(fam.dispersion_of_sigma(sigma[rows] if sigma.ndim else sigma))

    # -- fixed effects ----------------------------------------------------------------
    def coef_table(self) -> ResultTable:
        """Wald z tests of the fixed effects: a :class:`ResultTable` with columns
        ``estimate, std_error, statistic, p_value``."""
        table = _wald_table(self.fixef, self.std_errors)
        return result_table(table, "Wald z tests of the fixed effects")

    def zi_coef_table(self) -> ResultTable:
        """Wald z tests of the zero-inflation coefficients (empty without ``zi=``)."""
        table = _wald_table(self.zi_fixef, self.zi_std_errors)
        return result_table(table, "Wald z tests of the zero-inflation coefficients")

    def disp_coef_table(self) -> ResultTable:
        """Wald z tests of the dispersion model's coefficients (empty without
        ``dispersion=``)."""
        table = _wald_table(self.disp_fixef, self.disp_std_errors)
        return result_table(table, "Wald z tests of the dispersion coefficients")

    # -- likelihood ---------------------------------------------------------------------
    @property
    def n_params(self) -> int:
        """Number of estimated parameters: fixed effects, theta, the dispersion (or its
        model's coefficients) and the zero-inflation coefficients."""
        fam = family(self.family, self.link)
        dispersion = len(self.disp_names) or int(fam.has_dispersion)
        return len(self.beta) + len(self.theta) + dispersion + len(self.zi_names)

    # -- random effects -----------------------------------------------------------------
    # -- per row -------------------------------------------------------------------------
    def predict(
        self,
        newdata: Any = None,
        re: bool = True,
        allow_new_levels: bool = False,
        re_form: Any = None,
        *,
        type: str = "response",
    ) -> pd.Series:
        """Predictions, at the conditional modes (glmmTMB's types).

        Parameters
        ----------
        newdata : DataFrame or dict of arrays, optional
            Rows to predict, encoded as the training data (the transforms, levels and
            offsets of the fit); without it, the fitted rows. A model with a
            zero-inflation or dispersion formula predicts its fitted rows only.
        re, allow_new_levels, re_form
            As :meth:`mixedmodels.LmmResult.predict`: the random effects' conditional
            modes, all of them, none (``re=False`` or ``re_form="NA"``), or the terms of
            ``re_form``; a level not seen in the fit is an error unless
            ``allow_new_levels`` (then it is predicted at the population level).
        type : {"response", "link", "conditional", "zprob", "zlink", "disp"}
            ``"response"``: the mean of y, which for a zero-inflated model is the
            unconditional mean ``(1 - pi) mu``; ``"link"``: eta; ``"conditional"``: the
            count model's mean ``mu`` (the response for a model without zero inflation);
            ``"zprob"`` / ``"zlink"``: the probability of a structural zero and its logit
            (0 and -inf without ``zi=``); ``"disp"``: the dispersion (``fit.dispersion``)
            row by row.

        Returns
        -------
        pandas.Series
            One prediction a row; rows dropped for missing values are NaN.
        """
        types = ("response", "link", "conditional", "zprob", "zlink", "disp")
        if type not in types:
            raise ValueError(f"type must be one of {', '.join(map(repr, types))}, not {type!r}")
        if isinstance(newdata, str):
            raise ModelSpecError(
                f"predict's first argument is the new data; pass the type by name: "
                f"predict(type={newdata!r})"
            )
        if newdata is not None or not re or re_form is not None:
            return self._predict_rows(newdata, type, re, allow_new_levels, re_form)
        eta = np.array(self._eta)
        if type == "link":
            values = eta
        elif type == "conditional":
            values = self._mu()
        elif type in ("zprob", "zlink"):
            values = self._zi_link()
            if type == "zprob":
                values = 1.0 / (1.0 + np.exp(-values))
        elif type == "disp":
            values = np.where(np.isnan(eta), np.nan, np.array(self.dispersion))
        else:
            values = self._mu() * (1.0 - 1.0 / (1.0 + np.exp(-self._zi_link())))
        return pd.Series(values, index=self._index, name=type)

    def _predict_rows(
        self, newdata: Any, type: str, re: bool, allow_new_levels: bool, re_form: Any
    ) -> pd.Series:
        """Predictions from the fit's design for ``newdata`` (the training rows if None)."""
        from mixedmodels._data import as_dataframe
        from mixedmodels.lmm.predict import predict_rows, prediction_model_of, selected_terms

        if self._model is None:
            raise ModelSpecError("this GLMM fit does not hold its model, so it cannot predict")
        if self.zi_names or self.disp_names:
            raise ModelSpecError(
                "predictions for new data, or without the random effects, are not available "
                "for a model with a zero-inflation or dispersion formula; predict() gives its "
                "fitted rows"
            )
        frame = self._model.frame
        data = frame.data if newdata is None else as_dataframe(newdata)
        model = prediction_model_of(frame, self._tables.ranef, self._random_columns, self.beta)
        terms = selected_terms(frame, re_form)
        eta = predict_rows(model, data, re, allow_new_levels, terms)
        if type == "link":
            values = eta
        elif type in ("response", "conditional"):
            values = self._family.linkinv(eta)
        elif type == "zprob":
            values = np.zeros_like(eta)
        elif type == "zlink":
            values = np.full_like(eta, -np.inf)
        else:
            values = np.full_like(eta, float(np.asarray(self.dispersion)))
        index = data.index if isinstance(data, pd.DataFrame) else pd.RangeIndex(eta.size)
        return pd.Series(values, index=index, name=type)

    def predict_marginal(self, newdata: Any = None) -> pd.Series:
        """Population-averaged means ``E[y | x]``: the mean response with the random effects
        integrated over their distribution, not set to zero (:mod:`mixedmodels.glmm.marginal`).

        Under a nonlinear link the mean of a population of groups differs from the mean of a
        typical group (``predict(re=False)``): a logistic model's population-averaged
        probabilities lie nearer 0.5.

        Parameters
        ----------
        newdata : DataFrame or dict of arrays, optional
            Rows to predict (the fixed part's and the random terms' columns; the grouping
            factors are not read); without it, the fitted rows.

        Returns
        -------
        pandas.Series
            Named ``"marginal"``. A zero-inflated model's is ``(1 - pi)`` times the count
            model's marginal mean (fitted rows only, as :meth:`predict`).
        """
        from mixedmodels._data import as_dataframe
        from mixedmodels.design.frame import predictor_columns
        from mixedmodels.design.namespace import user_functions
        from mixedmodels.glmm.marginal import expected_inverse_link, random_effect_variance
        from mixedmodels.lmm.predict import predict_rows, prediction_model_of

        if self._model is None:
            raise ModelSpecError("this GLMM fit does not hold its model, so it cannot predict")
        if newdata is not None and (self.zi_names or self.disp_names):
            raise ModelSpecError(
                "marginal means for new data are not available for a model with a "
                "zero-inflation or dispersion formula; predict_marginal() gives its fitted rows"
            )
        frame = self._model.frame
        data = frame.data if newdata is None else as_dataframe(newdata)
        if newdata is not None:
            grouping = {name for t in frame.terms for name in t.spec.factors}
            data = data.assign(
                **{
                    name: frame.data[name].iloc[0]
                    for name in predictor_columns(frame.formula)
                    if name in grouping and name not in data.columns
                }
            )
        model = prediction_model_of(frame, self._tables.ranef, self._random_columns, self.beta)
        eta = predict_rows(model, data, False, True)
        with user_functions(frame.functions):
            variance = random_effect_variance(frame, self._model.layout, self.theta, data)
        values = expected_inverse_link(self.link, eta, variance)
        if newdata is None and self.zi_names:
            pi = 1.0 / (1.0 + np.exp(-np.asarray(self._zi_link())[frame.rows]))
            values = (1.0 - pi) * values
        index = data.index if isinstance(data, pd.DataFrame) else pd.RangeIndex(eta.size)
        return pd.Series(values, index=index, name="marginal")

    def confint(
        self,
        method: str = "profile",
        level: float = 0.95,
        n_boot: int = 1000,
        seed: int | None = None,
        n_jobs: int = 1,
    ) -> pd.DataFrame:
        """Confidence intervals, as lme4's ``confint``: profile-likelihood intervals of
        every SD, correlation and fixed effect (the default, as lme4's;
        :mod:`mixedmodels.inference.glmm_profile`), Wald intervals of the fixed effects
        (normal quantiles; the variance rows NaN, as lme4's ``method = "Wald"``), or
        percentile intervals of a parametric bootstrap of ``n_boot`` replicates
        (``method="boot"``).

        Returns
        -------
        pandas.DataFrame
            ``lower`` and ``upper``, indexed by lme4's names (``sd_(Intercept)|herd``,
            then the fixed effects).

        Raises
        ------
        ModelSpecError
            For profile intervals of a model with a dispersion or zero-inflation
            parameter, or of a ``nagq=0`` fit (use ``"wald"`` or ``"boot"``).
        """
        from mixedmodels.inference.glmm_profile import glmm_profile_intervals
        from mixedmodels.inference.intervals import wald_or_boot_intervals

        if not 0 < level < 1:
            raise ValueError(f"level must lie strictly between 0 and 1, not {level!r}")
        if method not in ("profile", "wald", "boot"):
            raise ValueError(f"method must be 'profile', 'wald' or 'boot', not {method!r}")
        if method == "profile":
            return glmm_profile_intervals(self, level)
        return wald_or_boot_intervals(self, method, level, n_boot, seed, n_jobs)

    def profile(self, level: float = 0.99) -> pd.DataFrame:
        """The profile zeta of every SD, correlation and fixed effect across its
        ``level`` interval (lme4's ``profile``): a table of ``name, value, zeta``."""
        from mixedmodels.inference.glmm_profile import glmm_profile_traces

        if not 0 < level < 1:
            raise ValueError(f"level must lie strictly between 0 and 1, not {level!r}")
        return glmm_profile_traces(self, level)

    @property
    def deviance(self) -> float:
        """lme4's ``deviance`` of a GLMM: the sum of the squared deviance residuals."""
        values = self.residuals(type="deviance").to_numpy()
        return float(np.nansum(values**2))

    def _zi_link(self) -> np.ndarray:
        """The zero-inflation model's linear predictor per row (-inf without one)."""
        if self._zi_eta.size:
            return np.array(self._zi_eta)
        eta = np.array(self._eta)
        return np.where(np.isnan(eta), np.nan, -np.inf)

    def _mu(self) -> np.ndarray:
        eta = np.array(self._eta)
        out = np.full_like(eta, np.nan)
        ok = ~np.isnan(eta)
        out[ok] = self._family.linkinv(eta[ok])
        return out

    @property
    def fitted(self) -> pd.Series:
        """Fitted means of the response (probabilities, rates; for a zero-inflated model
        the unconditional mean ``(1 - pi) mu``)."""
        return self.predict(type="response").rename("fitted")

    def residuals(self, type: str = "deviance", scaled: bool = False) -> pd.Series:
        """Residuals: ``"deviance"`` (default, as lme4), ``"pearson"`` or ``"response"``;
        ``scaled=True`` divides them by the scale of a gaussian, Gamma or inverse
        Gaussian GLMM, ``fit.dispersion`` (glmmTMB's ``sigma()``), and leaves the other
        families' as they are (their scale is 1, as lme4's ``sigma()`` says).

        Pearson residuals divide by the response's whole standard deviation, dispersion
        included (as glmmTMB's). For a zero-inflated model both are taken about the
        unconditional mean, with its variance ``(1 - pi) (V + pi mu^2)``; it has no
        deviance residuals (its deviance is not a sum of unit deviances).
        """
        types = ("deviance", "pearson", "response")
        if type not in types:
            raise ValueError(f"type must be 'deviance', 'pearson' or 'response', not {type!r}")
        mu = self._mu()
        y = np.array(self._y)
        ok = ~np.isnan(mu)
        out = np.full_like(mu, np.nan)
        fam = self._family_at(ok)
        pi = 1.0 / (1.0 + np.exp(-self._zi_link()[ok]))
        mean = (1.0 - pi) * mu[ok]
        if type == "response":
            out[ok] = y[ok] - mean
        elif type == "pearson":
            variance = fam.variance(mu[ok]) / self._prior[ok]
            variance = (1.0 - pi) * (variance + pi * mu[ok] ** 2)
            out[ok] = (y[ok] - mean) / np.sqrt(variance)
        elif self.zi_names:
            raise ModelSpecError(
                "a zero-inflated model has no deviance residuals; use type='pearson' or "
                "'response' (or simulation-based residuals)"
            )
        else:
            d = fam.deviance_residuals(y[ok], mu[ok], self._prior[ok])
            out[ok] = np.sign(y[ok] - mu[ok]) * np.sqrt(np.maximum(d, 0.0))
        if scaled:
            out /= self._scale()
        return pd.Series(out, index=self._index, name=f"{type}_residuals")

    def _scale(self) -> float | np.ndarray:
        """The scale of a GLMM's residuals: ``fit.dispersion`` for the families whose
        dispersion is a scale (gaussian, Gamma, inverse Gaussian), 1 for the others."""
        if self.family in ("gaussian", "Gamma", "inverse.gaussian"):
            return np.asarray(self.dispersion, dtype=np.float64)
        return 1.0

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
            conditional modes (only the draws from the family are new).

        Returns
        -------
        numpy.ndarray
            ``(nobs, n)``, rows in the order of the rows used in the fit; a binomial
            response as proportions of the fit's trials.
        """
        from mixedmodels.glmm.simulate import simulate_responses

        return simulate_responses(self, n, np.random.default_rng(seed), re)

    def refit(self, y: Any) -> GlmmResult:
        """The same model fitted to a new response: one value per row used in the fit, in
        their order (``simulate()`` gives such vectors; a binomial response as proportions
        of the same trials). Only the response changes: the formula is not read again.

        Raises
        ------
        DataError
            If ``y`` is not ``nobs`` finite values in the family's support.
        """
        model = self._require_model("refit()")
        return model.with_response(np.asarray(y, dtype=np.float64)).fit()

    def update(
        self, formula: str | None = None, *, data: Any = None, nagq: int | None = None
    ) -> GlmmResult:
        """This model fitted again with some of its arguments changed, as lme4's
        ``update``: a new ``formula`` (``". ~ . + x"`` keeps the response and adds to the
        right-hand side), other ``data``, or another ``nagq``. The family, weights,
        offset, side models (``zi=``, ``dispersion=``), name style and optimizer
        settings are kept; with other data an offset column is read from it (prior
        weights, or an offset given as values, are refused).

        Raises
        ------
        ModelSpecError
            When the new formula reads a column the fit did not keep (pass ``data=``).
        """
        from mixedmodels.design.update import update_inputs, updated_formula
        from mixedmodels.glmm.fit import glmm

        model = self._require_model("update()")
        text = updated_formula(self.formula, formula)
        sides = tuple(f for f in (model.zi_formula, model.disp_formula) if f is not None)
        kind = "binomial" if model.family.name == "binomial" else "numeric"
        inputs = update_inputs(model.frame, text, data, kind, sides)
        return glmm(
            text,
            inputs.data,
            family=model.family,
            weights=inputs.weights,
            offset=inputs.offset,
            nagq=self.nagq if nagq is None else nagq,
            settings=model.settings,
            zi=model.zi_formula,
            dispersion=model.disp_formula,
            names=model.frame.name_style,
            functions=model.frame.functions,
        )

    def anova(self) -> ResultTable:
        """Type III Wald chi-square tests of each fixed-effect term: whether its
        coefficients are zero when the factors are coded to sum to zero, whatever the
        fit's coding (``car::Anova(m, type = 3)`` on a sum-coded fit; an LMM's
        ``anova()`` gives the F tests). Between models, :func:`mixedmodels.anova`.

        Returns
        -------
        ResultTable
            A data frame of ``df, chisq, p_value``, indexed by term.
        """
        from mixedmodels.inference.type3 import wald_type3_anova

        model = self._require_model("anova()")
        table = wald_type3_anova(model.frame, np.array(self.beta), self._vcov_array())
        return result_table(table, "Type III Wald chi-square tests")

    def refit_ml(self) -> GlmmResult:
        """lme4's ``refitML``: a GLMM is fitted by maximum likelihood already, so the fit
        itself."""
        return self

    def _require_model(self, what: str) -> GlmmModel:
        if self._model is None:
            raise ModelSpecError(f"this fit does not hold its model, so {what} cannot run")
        return self._model

    # -- display -----------------------------------------------------------------------
    @property
    def method(self) -> str:
        """How the likelihood was approximated, in words."""
        if self.nagq == 0:
            return "Laplace approximation, beta inside PIRLS (nAGQ = 0)"
        if self.nagq == 1:
            return "Laplace approximation"
        return f"adaptive Gauss-Hermite quadrature, nAGQ = {self.nagq}"

    def _summary_pieces(self) -> tuple[Family, ResultTable, ResultTable | None, ResultTable | None]:
        """The family and the coefficient tables (fixed, zero-inflation, dispersion) that
        summaries show."""
        zero_inflation = self.zi_coef_table() if self.zi_names else None
        dispersion = self.disp_coef_table() if self.disp_names else None
        return family(self.family, self.link), self.coef_table(), zero_inflation, dispersion

    def summary(self) -> str:
        """A text summary with what lme4's ``summary`` of a glmer fit shows."""
        fam, coefficients, zero_inflation, dispersion = self._summary_pieces()
        return summary_text(self, fam, self.method, coefficients, zero_inflation, dispersion)

    def _report(self, digits: int) -> Report:
        fam, coefficients, zero_inflation, dispersion = self._summary_pieces()
        return summary_report(
            self, fam, self.method, coefficients, zero_inflation, dispersion, digits
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
            "dispersion": (
                [None if np.isnan(v) else float(v) for v in np.array(self.dispersion)]
                if np.ndim(self.dispersion)
                else self.dispersion
            ),
            "zi_fixef": dict(self.zi_fixef),
            "disp_fixef": dict(self.disp_fixef),
        }


def _wald_table(estimates: pd.Series, std_errors: pd.Series) -> pd.DataFrame:
    """Wald z tests: estimate, std_error, statistic, p_value."""
    se = std_errors.to_numpy()
    z = estimates.to_numpy() / se if se.size else se
    return pd.DataFrame(
        {
            "estimate": estimates.to_numpy(),
            "std_error": se,
            "statistic": z,
            "p_value": 2.0 * scipy.stats.norm.sf(np.abs(z)),
        },
        index=estimates.index,
    )
