"""Figures of the simulation-based model checks: the QQ plot of simulated quantile residuals
against the uniform distribution, and the residuals against the predicted value's rank with
their quartiles in bins, which should lie near 0.25, 0.5 and 0.75."""

from __future__ import annotations

from typing import Any

import numpy as np

from mixedmodels.plot.figures import PALETTE, _pyplot

__all__ = ["simulated_residuals"]


def simulated_residuals(result: Any, axes: Any = None) -> Any:
    """Draw the two panels of a :class:`~mixedmodels.checks.SimulatedResiduals`; ``axes``
    is a pair of Axes (a new figure of two panels if None). Returns the pair."""
    if axes is None:
        _, axes = _pyplot().subplots(1, 2, figsize=(9, 4))
    qq, spread = axes
    r = np.sort(result.residuals)
    n = r.size
    expected = (np.arange(1, n + 1) - 0.5) / n
    uniformity = result.uniformity()
    qq.scatter(expected, r, s=8, color=PALETTE["partial_pooling"], alpha=0.7)
    qq.plot([0, 1], [0, 1], color="0.3", linestyle="--")
    qq.set_xlabel("expected (uniform)")
    qq.set_ylabel("simulated quantile residual")
    qq.set_title(f"QQ plot; KS p = {uniformity.p_value:.3g}")
    rank = (np.argsort(np.argsort(result.expected, kind="stable"), kind="stable") + 0.5) / n
    spread.scatter(rank, result.residuals, s=8, color=PALETTE["complete_pooling"], alpha=0.6)
    bins = max(2, min(10, n // 20))
    edges = np.linspace(0.0, 1.0, bins + 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    for q in (0.25, 0.5, 0.75):
        spread.axhline(q, color="0.6", linestyle=":")
        values = [
            np.quantile(result.residuals[(rank >= lo) & (rank < hi)], q)
            if np.any((rank >= lo) & (rank < hi))
            else np.nan
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        ]
        spread.plot(centres, values, color=PALETTE["no_pooling"], linewidth=1.5)
    spread.set_xlim(0, 1)
    spread.set_ylim(0, 1)
    spread.set_xlabel("predicted value (rank)")
    spread.set_ylabel("simulated quantile residual")
    dispersion = result.dispersion()
    spread.set_title(f"dispersion ratio {dispersion.statistic:.3g}, p = {dispersion.p_value:.3g}")
    return axes
