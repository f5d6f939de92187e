"""Residual correlation structures and variance functions, nlme's ``corStruct`` and
``varFunc`` (:mod:`mixedmodels.gls.correlation`, :mod:`mixedmodels.gls.variance`), and
their description in a summary."""

from __future__ import annotations

from mixedmodels.gls.correlation import BoundCorrelation, Correlation
from mixedmodels.gls.form import parse_form
from mixedmodels.gls.variance import BoundVariance, Variance

__all__ = [
    "BoundCorrelation",
    "BoundVariance",
    "Correlation",
    "Variance",
    "describe",
    "parse_form",
]


def describe(
    correlation: Correlation | None,
    correlation_params: dict[str, float],
    variance: Variance | None,
    variance_params: dict[str, float],
) -> list[str]:
    """The structures and their parameters, a line each, for a summary."""
    lines = []
    for kind, structure, params in (
        ("Correlation structure", correlation, correlation_params),
        ("Variance function", variance, variance_params),
    ):
        if structure is not None:
            values = ", ".join(f"{k} = {v:.4f}" for k, v in params.items())
            lines.append(f"{kind}: {structure.name}({structure.form}): {values}")
    return lines
