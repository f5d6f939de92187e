"""The power curve of a simulation study: power against the number of levels, with its
Clopper-Pearson intervals and the target power as a line."""

from __future__ import annotations

from typing import Any

import numpy as np

from mixedmodels.plot.figures import PALETTE, _axes

__all__ = ["power_curve"]


def power_curve(result: Any, ax: Any = None, target: float | None = 0.8) -> Any:
    """Power (with its 95 % intervals) against the number of levels of ``along``, or a
    single point and interval for one design; ``target`` draws a reference line."""
    ax = _axes(ax)
    table = result.table
    if result.along is None:
        x = np.arange(len(table), dtype=float)
        ax.set_xticks(x, [str(k) for k in table.index])
        ax.set_xlabel("design")
    else:
        x = np.asarray(table.index, dtype=float)
        ax.set_xlabel(f"levels of {result.along}")
    power = table["power"].to_numpy(dtype=float)
    yerr = np.vstack(
        [power - table["lower"].to_numpy(float), table["upper"].to_numpy(float) - power]
    )
    ax.errorbar(x, power, yerr=yerr, marker="o", capsize=3, color=PALETTE["partial_pooling"])
    if target is not None:
        ax.axhline(target, color="0.5", linestyle="--", linewidth=1)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel(f"power ({result.test} test of {result.effect}, alpha = {result.alpha:g})")
    ax.set_title(f"Power to detect {result.effect} = {result.value:.3g}")
    return ax
