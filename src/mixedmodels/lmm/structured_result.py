"""The result of an LMM with residual structures, and its inference: Satterthwaite t and
type III F tests, Wald and parametric-bootstrap intervals, prediction, simulation and
refits to new responses.

The variance parameters are ``(theta, psi, sigma)``, ``psi`` the structures' parameters
on their unconstrained scales; the deviance and ``vcov(beta)`` at any of them come from
the LMM of the rows whitened at ``psi``
(:class:`~mixedmodels.inference.varpar.StructuredVarianceFunctions`), so Satterthwaite's
df take the structures' uncertainty into account as they take theta's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy

from mixedmodels.core.report import (
    Report,
    Reportable,
    coefficient_cells,
    measure_cells,
    random_effects_cells,
)
from mixedmodels.core.resulttable import ResultTable, ddf_caption, result_table
from mixedmodels.core.summary import random_effects_rows, text_table
from mixedmodels.core.tables import t_table
from mixedmodels.errors import ModelSpecError
from mixedmodels.gls.marginal import RandomBlock, StructureCovariance
from mixedmodels.gls.structures import describe
from mixedmodels.inference.dense_covariance import DenseCovariance, components, dense_pieces
from mixedmodels.inference.kenward_roger import KenwardRoger
from mixedmodels.inference.satterthwaite import (
    SatterthwaitePieces,
    satterthwaite_f,
    satterthwaite_t,
)
from mixedmodels.inference.varpar import StructuredVarianceFunctions
from mixedmodels.lmm.refit import check_response
from mixedmodels.lmm.simulate import simulate_responses
from mixedmodels.lmm.structured_design import StructuredDesign, StructuredEstimate
from mixedmodels.lmm_result import LmmResult

__all__ = ["StructuredLmmResult"]

DDF = ("satterthwaite", "kenward-roger", "residual", "normal")


@dataclass(frozen=True, eq=False)
class StructuredLmmResult(Reportable):
    """An LMM fitted with residual correlation and/or variance structures.

    The fixed effects, theta, sigma, the random effects' covariances and conditional modes
    are those of the model (``fit.fixef``, ``fit.varcorr``, ``fit.ranef()``); the
    log-likelihood includes the structures' determinant; fitted values and residuals are
    on the data's scale.
    """

    whitened: LmmResult
    """The LMM of the whitened rows at the optimum; its fitted values and residuals are
    those of the unwhitened rows, as this result's."""
    objective: float
    correlation_params: dict[str, float]
    variance_params: dict[str, float]
    converged: bool
    n_evaluations: int
    seconds: float
    _design: StructuredDesign
    _params: np.ndarray

    @classmethod
    def of(cls, design: StructuredDesign, est: StructuredEstimate) -> StructuredLmmResult:
        """The result of a design's optimum."""
        corr, var = design.natural(est.params)
        fit = LmmResult.of(est.record)
        return cls(
            whitened=fit,
            objective=float(fit.objective) + est.logdet,
            correlation_params=corr,
            variance_params=var,
            converged=est.converged,
            n_evaluations=est.n_evaluations,
            seconds=est.seconds,
            _design=design,
            _params=np.array(est.params),
        )

    # -- the estimates -----------------------------------------------------------------
    @property
    def correlation(self) -> Any:
        """The correlation structure as given (``mm.corAR1(...)``), or None."""
        return self._design.correlation

    @property
    def variance(self) -> Any:
        """The variance function as given, or None."""
        return self._design.variance

    @property
    def formula(self) -> str:
        return str(self.whitened.formula)

    @property
    def nobs(self) -> int:
        return int(self.whitened.nobs)

    @property
    def fixed_names(self) -> tuple[str, ...]:
        return tuple(self.whitened.fixed_names)

    @property
    def _frame(self) -> Any:
        return self._design.frame

    @property
    def loglik(self) -> float:
        return -0.5 * self.objective

    @property
    def reml(self) -> bool:
        return bool(self.whitened.reml)

    @property
    def n_params(self) -> int:
        return (
            int(self.whitened.n_params) + len(self.correlation_params) + len(self.variance_params)
        )

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        n = self.nobs - (len(self.whitened.beta) if self.reml else 0)
        return float(-2.0 * self.loglik + np.log(n) * self.n_params)

    @property
    def fixef(self) -> pd.Series:
        return self.whitened.fixef

    @property
    def beta(self) -> np.ndarray:
        return np.asarray(self.whitened.beta)

    @property
    def std_errors(self) -> pd.Series:
        return self.whitened.std_errors

    @property
    def vcov(self) -> pd.DataFrame:
        """The fixed effects' covariance at the estimated structures."""
        names = list(self.fixed_names)
        return pd.DataFrame(self.whitened._vcov_array(), index=names, columns=names)

    @property
    def sigma(self) -> float:
        return float(self.whitened.sigma)

    @property
    def theta(self) -> np.ndarray:
        return np.asarray(self.whitened.theta)

    @property
    def theta_names(self) -> tuple[str, ...]:
        return tuple(self.whitened.theta_names)

    @property
    def varcorr(self) -> pd.DataFrame:
        return self.whitened.varcorr

    def ranef(self) -> pd.DataFrame:
        return self.whitened.ranef()

    @property
    def fitted(self) -> pd.Series:
        """``X beta + Z b`` (+ offset) for the rows used in the fit."""
        values = self.whitened.fitted.to_numpy()[self._design.frame.rows]
        return pd.Series(values, name="fitted")

    def residuals(self) -> pd.Series:
        """The response less the fitted values (not whitened)."""
        values = self._design.frame.y - self.fitted.to_numpy()
        return pd.Series(values, name="residuals")

    # -- inference ---------------------------------------------------------------------
    def _pieces(self) -> SatterthwaitePieces:
        if not hasattr(self, "_cached_pieces"):
            vf = StructuredVarianceFunctions(self.whitened, self._design, self._params)
            object.__setattr__(self, "_cached_pieces", SatterthwaitePieces.of(vf))
        pieces: SatterthwaitePieces = self.__dict__["_cached_pieces"]
        return pieces

    def _dense(self) -> DenseCovariance:
        """The marginal covariance in SAS's parameters: the random effects' variances
        and covariances, sigma^2 and the structures' natural parameters."""
        design, record = self._design, self.whitened
        templates = record._theta_map.factors(record.theta)
        positions = record._theta_map.position
        blocks, random = [], []
        for b, block in enumerate(record._layout.blocks):
            entries = tuple((int(r), int(c)) for bb, r, c in positions if bb == b)
            S = self.sigma**2 * templates[b] @ templates[b].T
            random += [S[r, c] for r, c in entries]
            blocks.append(RandomBlock(block.factor.codes, block.matrix, entries))
        parts = components(
            self.nobs,
            [design.codes] + [blk.codes for blk in blocks],
            "Kenward-Roger for an LMM with residual structures",
        )
        cov = StructureCovariance(
            design.whitener, parts, design.natural_vector, self._params, blocks
        )
        frame = design.frame
        y = frame.y if frame.offset is None else frame.y - frame.offset
        nu = cov.estimates(np.array(random), self.sigma**2)
        return DenseCovariance(frame.X, y, parts, cov.covariance, nu, self.reml)

    def _kenward_roger(self) -> KenwardRoger:
        if not self.reml:
            raise ModelSpecError("Kenward-Roger is defined for REML fits; refit with reml=True")
        if "_cached_kr" not in self.__dict__:
            object.__setattr__(self, "_cached_kr", dense_pieces(self._dense())[1])
        kr: KenwardRoger = self.__dict__["_cached_kr"]
        return kr

    def _check_ddf(self, ddf: str) -> None:
        if ddf not in DDF:
            raise ValueError(f"ddf must be one of {', '.join(repr(d) for d in DDF)}, not {ddf!r}")

    def coef_table(self, ddf: str = "satterthwaite", level: float = 0.95) -> ResultTable:
        """t tests of the fixed effects with a confidence interval for each.

        Parameters
        ----------
        ddf : {"satterthwaite", "kenward-roger", "residual", "normal"}
            Satterthwaite's df, with the covariance of ``(theta, psi, sigma)`` from the
            Hessian of the deviance, so the structures' parameters count as estimated;
            Kenward-Roger's df and adjusted SEs (REML fits), as SAS PROC MIXED's
            ``ddfm=kr``: in SAS's parameters (the random effects' variances and
            covariances, sigma^2, the structures' natural ones) with the observed
            information, from the covariance of each independent component of the rows
            (at most 3,000 rows each); ``nobs - p``; or none (Wald z).
        level : float
            Confidence level of the intervals.

        Returns
        -------
        ResultTable
            A data frame with columns ``estimate, std_error, df, statistic, p_value,
            lower, upper``.
        """
        if not 0 < level < 1:
            raise ValueError(f"level must lie strictly between 0 and 1, not {level!r}")
        self._check_ddf(ddf)
        se = self.std_errors.to_numpy()
        p = self.beta.size
        if ddf == "satterthwaite":
            df = satterthwaite_t(self._pieces(), self.beta)["df"]
        elif ddf == "kenward-roger":
            kr = self._kenward_roger()
            se = np.sqrt(np.diag(kr.Phi_A))
            df = np.array([kr.test(np.eye(p)[[i]], self.beta)[1] for i in range(p)])
        elif ddf == "residual":
            df = np.full(p, float(self.nobs - p))
        else:
            df = np.full(p, np.inf)
        table = t_table(self.beta, se, df, self.fixed_names, level)
        return result_table(table, ddf_caption("t tests of the fixed effects", ddf))

    def test(self, L: Any) -> tuple[float, float, float, float]:
        """F test of ``L beta = 0`` with Satterthwaite's df: ``(numdf, dendf, F, p)``."""
        matrix = np.atleast_2d(np.asarray(L, dtype=np.float64))
        if matrix.shape[1] != self.beta.size:
            raise ModelSpecError(
                f"L must have {self.beta.size} columns (one per fixed effect: "
                f"{', '.join(self.fixed_names)}), not {matrix.shape[1]}"
            )
        return satterthwaite_f(self._pieces(), self.beta, matrix)

    def anova(self, ddf: str = "satterthwaite") -> ResultTable:
        """Type III F tests of each fixed-effect term with Satterthwaite's df: columns
        ``numdf, dendf, F, p_value``."""
        from mixedmodels.inference.type3 import type3_hypotheses

        if ddf != "satterthwaite":
            raise ValueError(f"ddf must be 'satterthwaite' for type III tests, not {ddf!r}")
        frame = self._design.frame
        if frame.aliased:
            raise ModelSpecError(
                "type III tests need a full-rank fixed-effects matrix; these columns were "
                f"dropped as aliased: {', '.join(frame.aliased)}"
            )
        hypotheses = type3_hypotheses(frame.formula.fixed, frame.data, frame.X)
        rows = [(name, *self.test(L)) for name, L in hypotheses]
        table = pd.DataFrame(rows, columns=["term", "numdf", "dendf", "F", "p_value"])
        return result_table(table.set_index("term"), ddf_caption("Type III F tests", ddf))

    def confint(
        self,
        method: str = "wald",
        level: float = 0.95,
        n_boot: int = 1000,
        seed: int | None = None,
        n_jobs: int = 1,
    ) -> pd.DataFrame:
        """Confidence intervals.

        Parameters
        ----------
        method : {"wald", "boot", "profile"}
            Wald intervals of the fixed effects (normal quantiles); percentile
            intervals of a parametric bootstrap of ``n_boot`` replicates for every
            quantity the bootstrap records (fixed effects, theta, sigma, SDs and
            correlations, the structures' parameters); or profile-likelihood intervals
            of the structures' parameters (each profiled over the others and theta, on
            the fit's criterion) and of the fixed effects (ML refits with the effect
            held, as lme4; :mod:`mixedmodels.lmm.structured_profile`).
        level : float

        Returns
        -------
        pandas.DataFrame
            ``lower`` and ``upper`` by name.
        """
        if not 0 < level < 1:
            raise ValueError(f"level must lie strictly between 0 and 1, not {level!r}")
        if method == "wald":
            z = float(scipy.stats.norm.ppf(0.5 + level / 2))
            se = self.std_errors.to_numpy()
            index = pd.Index(list(self.fixed_names), name="name")
            return pd.DataFrame(
                {"lower": self.beta - z * se, "upper": self.beta + z * se}, index=index
            )
        if method == "boot":
            from mixedmodels.inference.bootstrap import bootstrap

            table = bootstrap(self, n=n_boot, seed=seed, n_jobs=n_jobs).intervals(level)
            return table[["lower", "upper"]].rename_axis("name")
        if method == "profile":
            from mixedmodels.lmm.structured_profile import (
                fixed_profile_intervals,
                structure_profile_intervals,
            )

            names = [*self.correlation_params, *self.variance_params]
            parts = []
            if names:
                parts.append(
                    structure_profile_intervals(
                        self._design, self._params, self.theta, self.objective, names, level
                    )
                )
            ml = (
                self._design
                if not self.reml
                else self._design.with_response(self._design.frame.y, reml=False)
            )
            parts.append(
                fixed_profile_intervals(
                    ml,
                    self._params,
                    self.theta,
                    self.beta,
                    self.std_errors.to_numpy(),
                    list(self.fixed_names),
                    level,
                )
            )
            return pd.concat(parts)
        raise ValueError(f"method must be 'wald', 'boot' or 'profile', not {method!r}")

    # -- prediction and simulation -----------------------------------------------------
    def predict(
        self,
        newdata: Any = None,
        re: bool = True,
        allow_new_levels: bool = False,
        re_form: Any = None,
        *,
        type: str = "response",
    ) -> pd.Series:
        """Predictions ``X beta (+ Z b) (+ offset)``, as nlme's ``predict`` for ``lme``:
        the residual structure does not enter (see :meth:`LmmResult.predict`, whose
        arguments these are)."""
        if newdata is None and re and re_form is None:
            return self.fitted.rename("predicted")
        return self.whitened.predict(
            newdata, re=re, allow_new_levels=allow_new_levels, re_form=re_form, type=type
        )

    def update(
        self, formula: str | None = None, *, data: Any = None, reml: bool | None = None
    ) -> StructuredLmmResult:
        """This model fitted again with some of its arguments changed, as
        :meth:`LmmResult.update`; the correlation and variance structures, the offset
        and the optimizer settings are kept (without ``data``, the rows of the fit with
        all their columns, those of the structures too)."""
        from mixedmodels.design.update import update_inputs, updated_formula
        from mixedmodels.fitting import lmm

        design = self._design
        text = updated_formula(self.formula, formula)
        inputs = update_inputs(design.frame, text, design.rows if data is None else data)
        fit = lmm(
            text,
            inputs.data,
            reml=self.reml if reml is None else reml,
            offset=inputs.offset,
            settings=design.settings,
            correlation=design.correlation,
            variance=design.variance,
            names=design.frame.name_style,
            functions=design.frame.functions,
        )
        assert isinstance(fit, StructuredLmmResult)
        return fit

    def simulate(
        self,
        n: int = 1,
        seed: int | np.random.Generator | np.random.SeedSequence | None = None,
        re: str = "new",
    ) -> np.ndarray:
        """Responses simulated from the fitted model: new random effects (or the
        conditional modes, ``re="conditional"``) and new residuals with the fitted
        correlation and variance structures.

        Returns
        -------
        numpy.ndarray
            ``(nobs, n)``, rows in the order of the rows used in the fit.
        """
        return simulate_responses(
            self.whitened,
            n,
            np.random.default_rng(seed),
            re,
            colour=lambda z: self._design.colour(self._params, z),
        )

    def refit(self, y: Any) -> StructuredLmmResult:
        """The same model fitted to a new response (one value per row used in the fit,
        in their order; :meth:`simulate` gives such vectors), started from this fit's
        structure parameters and theta."""
        response = check_response(y, self.nobs, 0)
        design = self._design.with_response(response)
        est = design.estimate(start=self._params, theta_start=self.theta)
        return StructuredLmmResult.of(design, est)

    def refit_ml(self) -> StructuredLmmResult:
        """This model fitted by maximum likelihood (lme4's ``refitML``), structures
        included, started from this fit's estimates; an ML fit is returned as it is."""
        if not self.reml:
            return self
        design = self._design.with_response(self._design.frame.y, reml=False)
        return StructuredLmmResult.of(
            design, design.estimate(start=self._params, theta_start=self.theta)
        )

    # -- display -----------------------------------------------------------------------
    def summary(self) -> str:
        """A text summary: criteria, random effects, fixed effects and the structures."""
        method = "REML" if self.reml else "maximum likelihood"
        lines = [
            f"Linear mixed model with residual structures fit by {method}",
            f"Formula: {self.formula}",
            f"  AIC {self.aic:.2f}  BIC {self.bic:.2f}  logLik {self.loglik:.4f}",
            "",
            "Random effects:",
            *text_table(random_effects_rows(self.varcorr), align_left=2),
            f"Number of obs: {self.nobs}",
            "",
            "Fixed effects:",
            self.coef_table(ddf="normal")
            .iloc[:, [0, 1, 3]]
            .to_string(float_format=lambda x: f"{x:.4f}"),
            "",
        ]
        lines += describe(
            self.correlation, self.correlation_params, self.variance, self.variance_params
        )
        return "\n".join(lines)

    def _report(self, digits: int) -> Report:
        method = "REML" if self.reml else "maximum likelihood"
        structures = describe(
            self.correlation, self.correlation_params, self.variance, self.variance_params
        )
        criteria = {"AIC": self.aic, "BIC": self.bic, "logLik": self.loglik}
        tables = (
            ("Criteria", measure_cells(criteria, digits)),
            ("Random effects", random_effects_cells(self.varcorr, digits)),
            ("Fixed effects", coefficient_cells(self.coef_table(ddf="normal"), "z", digits)),
        )
        return Report(
            f"Linear mixed model with residual structures fit by {method}",
            self.formula,
            (*structures, f"Number of obs: {self.nobs}"),
            tables,
        )

    def __repr__(self) -> str:
        return f"<StructuredLmmResult {self.formula!r}, nobs={self.nobs}, loglik={self.loglik:.4f}>"
