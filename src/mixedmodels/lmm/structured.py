"""Linear mixed models with residual correlation and variance structures, as nlme's ``lme``
with ``correlation=`` and ``weights=`` (crossed random effects too): the design and its
fit (:mod:`mixedmodels.lmm.structured_design`) and the result
(:mod:`mixedmodels.lmm.structured_result`)."""

from __future__ import annotations

import warnings
from typing import Any

from mixedmodels.core.optinfo import OptimizerSettings
from mixedmodels.errors import ConvergenceWarning
from mixedmodels.gls.structures import Correlation, Variance
from mixedmodels.lmm.structured_design import StructuredDesign
from mixedmodels.lmm.structured_result import StructuredLmmResult

__all__ = ["StructuredLmmResult", "lmm_structured"]


def lmm_structured(
    formula: str,
    data: Any,
    *,
    correlation: Correlation | None,
    variance: Variance | None,
    reml: bool,
    offset: Any,
    settings: OptimizerSettings,
    names: str = "python",
) -> StructuredLmmResult:
    """Fit an LMM with residual structures; see :func:`mixedmodels.lmm`."""
    design = StructuredDesign.of(
        formula, data, correlation, variance, reml, offset, settings, names=names
    )
    est = design.estimate()
    # (a boundary fit is reported by the final fit's record itself)
    if not est.converged:
        warnings.warn(
            f"{formula}: the residual structures' parameters did not converge ({est.message})",
            ConvergenceWarning,
            stacklevel=3,
        )
    return StructuredLmmResult.of(design, est)
