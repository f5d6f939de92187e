"""MmrmResult: an immutable fit of :func:`mixedmodels.mmrm`."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy

from mixedmodels.core.display import frame_cells
from mixedmodels.core.report import Report, Reportable, coefficient_cells, measure_cells
from mixedmodels.core.result import frozen_array
from mixedmodels.core.resulttable import ResultTable, ddf_caption, result_table

__all__ = ["MmrmResult"]

_DDF = ("satterthwaite", "kenward-roger", "kenward-roger-linear")


@dataclass(frozen=True, eq=False)
class MmrmResult(Reportable):
    """A mixed model for repeated measures.

    Attributes
    ----------
    structure : str
        The covariance structure (``"us"``, ``"ar1h"``, ...).
    visits : tuple of str
        The visits, in the covariance matrix's order.
    covariance : numpy.ndarray
        The visits' ``T x T`` covariance matrix.
    covariance_params : dict
        The structure's parameters on SAS PROC MIXED's scale (variances, covariances,
        correlations).
    objective : float
        -2 log L (ML) or the REML criterion at the optimum.
    model : MmrmModel
        The rows grouped by pattern of visits, for the inference.
    """

    formula: str
    method: str
    structure: str
    visits: tuple[str, ...]
    fixed_names: tuple[str, ...]
    beta: np.ndarray
    Phi: np.ndarray
    covariance: np.ndarray
    covariance_params: dict[str, float]
    objective: float
    nobs: int
    n_subjects: int
    converged: bool
    message: str
    n_evaluations: int
    seconds: float
    model: Any = field(repr=False)
    _nu: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    _data: Any = field(repr=False, default=None)
    _fixed: str = field(repr=False, default="1")

    def __post_init__(self) -> None:
        for name in ("beta", "Phi", "covariance", "_nu"):
            object.__setattr__(self, name, frozen_array(getattr(self, name)))

    @property
    def loglik(self) -> float:
        """The log-likelihood (restricted, for REML), as mmrm's ``logLik``."""
        return -0.5 * self.objective

    @property
    def n_params(self) -> int:
        """Covariance parameters (and the fixed effects under ML), as mmrm counts for AIC."""
        k = len(self.covariance_params)
        return k if self.method == "REML" else k + len(self.beta)

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.n_params

    @property
    def fixef(self) -> pd.Series:
        return pd.Series(np.array(self.beta), index=list(self.fixed_names), name="fixef")

    def vcov(self, ddf: str = "satterthwaite") -> np.ndarray:
        """The fixed effects' covariance: ``(X' Sigma^{-1} X)^{-1}``, or Kenward-Roger's
        adjusted one for ``ddf="kenward-roger"``."""
        self._check_ddf(ddf)
        return np.array(self.Phi if ddf == "satterthwaite" else self._kenward_roger(ddf).Phi_A)

    @property
    def correlation(self) -> np.ndarray:
        sd = np.sqrt(np.diag(self.covariance))
        out: np.ndarray = np.array(self.covariance) / np.outer(sd, sd)
        return out

    @cached_property
    def _satterthwaite(self) -> Any:
        from mixedmodels.mmrm.covariance import STRUCTURES
        from mixedmodels.mmrm.inference import satterthwaite

        return satterthwaite(self.model, STRUCTURES[self.structure], np.array(self._nu))

    @cached_property
    def _kenward_roger_pieces(self) -> dict[str, Any]:
        return {}

    def _kenward_roger(self, ddf: str) -> Any:
        from mixedmodels.errors import ModelSpecError
        from mixedmodels.mmrm.covariance import STRUCTURES
        from mixedmodels.mmrm.inference import kenward_roger

        if self.method != "REML":
            raise ModelSpecError("Kenward-Roger is defined for REML fits; refit with reml=True")
        cache = self._kenward_roger_pieces
        if ddf not in cache:
            cache[ddf] = kenward_roger(
                self.model,
                STRUCTURES[self.structure],
                np.array(self._nu),
                linear=ddf == "kenward-roger-linear",
            )
        return cache[ddf]

    def _check_ddf(self, ddf: str) -> None:
        if ddf not in _DDF:
            raise ValueError(f"ddf must be one of {', '.join(map(repr, _DDF))}, not {ddf!r}")

    def test(self, L: np.ndarray, ddf: str = "satterthwaite") -> tuple[float, float, float, float]:
        """F test of ``L beta = 0``: (numerator df, denominator df, F, p)."""
        from mixedmodels.inference.satterthwaite import satterthwaite_f

        self._check_ddf(ddf)
        L = np.atleast_2d(np.asarray(L, dtype=float))
        if L.shape[1] != len(self.beta):
            raise ValueError(f"L needs {len(self.beta)} columns, one per fixed effect")
        if ddf != "satterthwaite":
            out: tuple[float, float, float, float] = self._kenward_roger(ddf).test(
                L, np.array(self.beta)
            )
            return out
        return satterthwaite_f(self._satterthwaite, np.array(self.beta), L)

    def coef_table(self, ddf: str = "satterthwaite") -> ResultTable:
        """t tests of the fixed effects with Satterthwaite's or Kenward-Roger's df (the
        latter with its adjusted standard errors; ``"kenward-roger-linear"`` without the
        second derivatives of the covariance, SAS's ``ddfm=kr(linear)``)."""
        V = self.vcov(ddf)
        se = np.sqrt(np.diag(V))
        p = len(self.beta)
        df = np.array([self.test(np.eye(p)[i : i + 1], ddf)[1] for i in range(p)])
        t = np.array(self.beta) / se
        table = pd.DataFrame(
            {
                "estimate": np.array(self.beta),
                "std_error": se,
                "df": df,
                "statistic": t,
                "p_value": 2.0 * scipy.stats.t.sf(np.abs(t), df),
            },
            index=list(self.fixed_names),
        )
        return result_table(table, ddf_caption("t tests of the fixed effects", ddf))

    def anova(self, ddf: str = "satterthwaite") -> ResultTable:
        """Type III F tests of each fixed-effect term (as SAS's "Type 3 Tests")."""
        from mixedmodels.inference.type3 import type3_hypotheses

        self._check_ddf(ddf)
        hypotheses = type3_hypotheses(self._fixed, self._data, self.model.X)
        rows = [(name, *self.test(L, ddf)) for name, L in hypotheses]
        table = pd.DataFrame(rows, columns=["term", "numdf", "dendf", "F", "p_value"])
        return result_table(table.set_index("term"), ddf_caption("Type III F tests", ddf))

    def summary(self) -> str:
        """A text summary: the fit, the covariance matrix and the coefficient table."""
        lines = [
            f"Mixed model for repeated measures fit by {self.method}",
            f"  Model: {self.formula}",
            f"  {self.nobs} observations of {self.n_subjects} subjects at {len(self.visits)} "
            f"visits; covariance {self.structure}",
            f"  AIC {self.aic:.2f}  logLik {self.loglik:.3f}",
            "",
            "Covariance of the visits:",
            pd.DataFrame(
                np.array(self.covariance), index=list(self.visits), columns=list(self.visits)
            ).to_string(float_format=lambda x: f"{x:.4g}"),
            "",
            self.coef_table().to_string(float_format=lambda x: f"{x:.4g}"),
        ]
        return "\n".join(lines)

    def _report(self, digits: int) -> Report:
        covariance = pd.DataFrame(
            np.array(self.covariance), index=list(self.visits), columns=list(self.visits)
        )
        covariance.index.name = "Visit"
        tables = (
            ("Criteria", measure_cells({"AIC": self.aic, "logLik": self.loglik}, digits)),
            (
                f"Covariance of the visits ({self.structure})",
                frame_cells(covariance, digits, index=True),
            ),
            (
                "Fixed effects (df: Satterthwaite)",
                coefficient_cells(self.coef_table(), "t", digits),
            ),
        )
        sizes = (
            f"{self.nobs} observations of {self.n_subjects} subjects at {len(self.visits)} visits"
        )
        return Report(
            f"Mixed model for repeated measures fit by {self.method}",
            self.formula,
            (sizes,),
            tables,
        )

    def __repr__(self) -> str:
        return (
            f"<MmrmResult {self.formula!r} ({self.method}), {self.nobs} rows, "
            f"{self.n_subjects} subjects, loglik={self.loglik:.4f}>"
        )
