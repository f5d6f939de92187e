"""A generalized linear mixed model before it is fitted: its design, its family and how it
is fitted. A fit keeps its model, so that it can be fitted again to another response (a
simulated one, for the parametric bootstrap) without reading the formula again."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from mixedmodels.core.covariance import CovarianceLayout
from mixedmodels.core.optinfo import OptimizerSettings
from mixedmodels.design.conditioning import Conditioning
from mixedmodels.design.frame import ModelFrame
from mixedmodels.errors import DataError
from mixedmodels.glmm.estimate import estimate
from mixedmodels.glmm.family import Family
from mixedmodels.glmm.pirls import GlmmProblem
from mixedmodels.glmm.result import GlmmResult

__all__ = ["GlmmModel"]


@dataclass(frozen=True, eq=False)
class GlmmModel:
    """The design of a GLMM and the way it is fitted.

    Attributes
    ----------
    frame, layout : ModelFrame, CovarianceLayout
        The model's matrices and random-effect blocks in the data's units.
    conditioned, conditioned_layout : ModelFrame, CovarianceLayout
        The same, centred and scaled (:mod:`mixedmodels.design.conditioning`): what the
        fit works on.
    conditioning : Conditioning
        The way from the conditioned estimates back to the data's units.
    family : Family
    nagq : int
    settings : OptimizerSettings
    index : pandas.Index
        The data's row labels.
    zi_X, disp_X : numpy.ndarray or None
        The zero-inflation and dispersion models' designs, in the frame's rows.
    zi_names, disp_names : tuple of str
        Their columns' names.
    zi_formula, disp_formula : str or None
        Their one-sided formulas, as given.
    """

    frame: ModelFrame
    layout: CovarianceLayout
    conditioned: ModelFrame
    conditioned_layout: CovarianceLayout
    conditioning: Conditioning
    family: Family
    nagq: int
    settings: OptimizerSettings
    index: pd.Index
    zi_X: np.ndarray | None = None
    zi_names: tuple[str, ...] = ()
    disp_X: np.ndarray | None = None
    disp_names: tuple[str, ...] = ()
    zi_formula: str | None = None
    disp_formula: str | None = None

    def problem(self) -> GlmmProblem:
        """The PIRLS and deviance computations of this model (on the conditioned
        matrices)."""
        problem = GlmmProblem(
            self.conditioned, self.conditioned_layout, self.family, self.zi_X, self.disp_X
        )
        problem.zi_names = self.zi_names
        problem.disp_names = self.disp_names
        return problem

    def fit(self) -> GlmmResult:
        """Estimate the model."""
        # PIRLS makes many small BLAS calls; threaded BLAS only adds contention to them
        with threadpool_limits(limits=1, user_api="blas"):
            return estimate(self, self.problem())

    def with_response(self, y: np.ndarray) -> GlmmModel:
        """The same model with another response: one value per row of the fit, in their
        order (for a binomial, proportions of the same trials).

        Raises
        ------
        DataError
            If ``y`` is not that many finite numbers, or lies outside the family's support.
        """
        values = np.asarray(y, dtype=np.float64)
        n = self.frame.y.size
        if values.shape != (n,):
            raise DataError(
                f"a new response needs {n} values (one per row of the fit), got {values.shape}"
            )
        if not np.all(np.isfinite(values)):
            raise DataError("a new response must be finite in every row")
        self.family.check_response(values, self.frame.response_name, self.frame.weights)
        return replace(
            self,
            frame=replace(self.frame, y=values),
            conditioned=replace(self.conditioned, y=values),
        )
