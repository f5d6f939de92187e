"""The teaching figures: the pooling view, alpha against n, a caterpillar plot and the
intercept-slope shrinkage plot with the population covariance ellipse."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "PALETTE",
    "caterpillar",
    "pooling",
    "residuals",
    "shrinkage_2d",
    "shrinkage_factors",
    "type1_by_icc",
]

#: Okabe-Ito colours: no pooling, complete pooling, partial pooling, truth.
PALETTE = {
    "no_pooling": "#E69F00",
    "complete_pooling": "#56B4E9",
    "partial_pooling": "#009E73",
    "true_mean": "#000000",
}


def _pyplot() -> Any:
    """Return ``matplotlib.pyplot``.

    Returns
    -------
    module
        ``matplotlib.pyplot``.

    Raises
    ------
    ImportError
        Without matplotlib, naming the extra that installs it.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "the figures of mixedmodels.plot need matplotlib: pip install 'mixedmodels[plot]'"
        ) from exc
    return plt


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    return _pyplot().subplots(figsize=(8, 4.5))[1]


def pooling(result: Any, ax: Any = None, show_truth: bool = True) -> Any:
    """The pooling view: clusters ordered by size; no, complete and partial pooling; the
    grand mean dashed; a dashed segment from each cluster's own mean to its partially
    pooled estimate."""
    ax = _axes(ax)
    t = result.table.sort_values("n")
    x = np.arange(len(t))
    ax.axhline(
        float(t["complete_pooling"].iloc[0]),
        color=PALETTE["complete_pooling"],
        linestyle="--",
        label="complete pooling (grand mean)",
    )
    for i, (a, b) in enumerate(zip(t["no_pooling"], t["partial_pooling"], strict=True)):
        ax.plot([i, i], [a, b], linestyle="--", color="0.6", linewidth=1)
    ax.scatter(x, t["no_pooling"], color=PALETTE["no_pooling"], label="no pooling", zorder=3)
    ax.scatter(
        x,
        t["partial_pooling"],
        color=PALETTE["partial_pooling"],
        marker="D",
        label="partial pooling",
        zorder=4,
    )
    if show_truth and "true_mean" in t.columns:
        ax.scatter(
            x, t["true_mean"], color=PALETTE["true_mean"], marker="x", label="true mean", zorder=5
        )
    ax.set_xticks(
        x, [f"{name}\n(n={int(n)})" for name, n in zip(t.index, t["n"], strict=True)], fontsize=7
    )
    ax.set_xlabel("cluster, ordered by size")
    ax.set_ylabel("estimate")
    ax.set_title("Partial pooling pulls small clusters toward the grand mean")
    ax.legend(fontsize=8)
    return ax


def shrinkage_factors(result: Any, ax: Any = None) -> Any:
    """alpha_j against n_j: large clusters keep their own mean (alpha near 1)."""
    ax = _axes(ax)
    t = result.table.sort_values("n")
    ax.plot(t["n"], t["alpha"], marker="o", color=PALETTE["partial_pooling"])
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("cluster size n_j")
    ax.set_ylabel("shrinkage factor alpha_j")
    ax.set_title("alpha_j = s_u^2 / (s_u^2 + s_e^2 / n_j)")
    return ax


def caterpillar(
    fit: Any,
    term: str = "(Intercept)",
    group: str | None = None,
    ax: Any = None,
    level: float = 0.95,
) -> Any:
    """Conditional modes of one term, sorted, with ``level`` intervals from cond_sd."""
    from scipy import stats

    ax = _axes(ax)
    re = fit.ranef()
    group = group or str(re["group"].iloc[0])
    part = re[(re["group"] == group) & (re["term"] == term)].sort_values("value")
    z = stats.norm.ppf(0.5 + level / 2)
    y = np.arange(len(part))
    ax.errorbar(
        part["value"],
        y,
        xerr=z * part["cond_sd"],
        fmt="o",
        color=PALETTE["partial_pooling"],
        ecolor="0.5",
        capsize=2,
    )
    ax.axvline(0.0, color="0.3", linestyle="--")
    ax.set_yticks(y, list(part["level"]), fontsize=7)
    ax.set_xlabel(f"conditional mode of {term} ({int(level * 100)} % interval)")
    ax.set_ylabel(group)
    return ax


def shrinkage_2d(fit: Any, data: Any, x: str, group: str, ax: Any = None) -> Any:
    """Per-group intercept and slope: separate least-squares fits (no pooling) against
    the mixed model's coefficients, with arrows between them and the ellipse of the
    fitted random-effects covariance around the fixed effects (sleepstudy is the
    classic)."""
    ax = _axes(ax)  # first: without matplotlib, the error that names its extra
    from matplotlib.patches import Ellipse

    coef = fit.coef()[group]
    response = fit._frame.response_name
    own = []
    for level in coef.index:
        rows = data[data[group].astype(str) == level]
        slope, intercept = np.polyfit(rows[x].to_numpy(float), rows[response].to_numpy(float), 1)
        own.append((intercept, slope))
    own_arr = np.asarray(own)
    mixed = coef[["(Intercept)", x]].to_numpy()
    for (a, b), (c, d) in zip(own_arr, mixed, strict=True):
        ax.annotate(
            "",
            xy=(c, d),
            xytext=(a, b),
            arrowprops={"arrowstyle": "->", "color": "0.6", "linestyle": "--"},
        )
    ax.scatter(own_arr[:, 0], own_arr[:, 1], color=PALETTE["no_pooling"], label="no pooling")
    ax.scatter(
        mixed[:, 0],
        mixed[:, 1],
        color=PALETTE["partial_pooling"],
        marker="D",
        label="partial pooling",
    )
    vc = fit.varcorr
    rows = vc[vc["group"] == group]
    var = rows[rows["term2"].isna()]["variance"].to_numpy()
    cov = rows[rows["term2"].notna()]["variance"].to_numpy()
    Sigma = np.array([[var[0], cov[0] if cov.size else 0.0], [cov[0] if cov.size else 0.0, var[1]]])
    values, vectors = np.linalg.eigh(Sigma)
    angle = float(np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1])))
    center = (fit.fixef["(Intercept)"], fit.fixef[x])
    for scale in (1.0, 2.0):
        ax.add_patch(
            Ellipse(
                center,
                2 * scale * np.sqrt(values[1]),
                2 * scale * np.sqrt(values[0]),
                angle=angle,
                fill=False,
                color=PALETTE["complete_pooling"],
                linestyle="--",
            )
        )
    ax.scatter(
        [center[0]],
        [center[1]],
        color=PALETTE["complete_pooling"],
        marker="+",
        s=120,
        label="population (fixed effects)",
    )
    ax.set_xlabel("intercept")
    ax.set_ylabel(f"slope of {x}")
    ax.legend(fontsize=8)
    return ax


def type1_by_icc(results: dict[float, Any], alpha: float = 0.05, ax: Any = None) -> Any:
    """Type-I rate of each method against the ICC, with Monte Carlo error bars and the
    nominal level dashed; ``results`` maps ICC to :func:`mixedmodels.type1_error` output."""
    ax = _axes(ax)
    iccs = sorted(results)
    colours = {
        "ols": PALETTE["no_pooling"],
        "lmm": PALETTE["partial_pooling"],
        "cluster_means": PALETTE["complete_pooling"],
    }
    for method in results[iccs[0]].table.index:
        rate = [results[i].table.loc[method, "rejection_rate"] for i in iccs]
        se = [results[i].table.loc[method, "mc_se"] for i in iccs]
        ax.errorbar(
            iccs,
            rate,
            yerr=1.96 * np.asarray(se),
            marker="o",
            capsize=3,
            label=method,
            color=colours.get(method),
        )
    ax.axhline(alpha, color="0.3", linestyle="--", label=f"nominal {alpha:g}")
    ax.set_xlabel("intraclass correlation")
    ax.set_ylabel("Type-I error rate")
    ax.legend(fontsize=8)
    return ax


def residuals(fit: Any, ax: Any = None) -> Any:
    """Residuals against fitted values (LMM) with a zero line; for a quick check of the
    mean and variance structure."""
    ax = _axes(ax)
    fitted = fit.fitted.to_numpy()
    res = fit.residuals().to_numpy()
    ok = ~np.isnan(fitted)
    ax.scatter(fitted[ok], res[ok], s=10, color=PALETTE["partial_pooling"], alpha=0.7)
    ax.axhline(0.0, color="0.3", linestyle="--")
    ax.set_xlabel("fitted value")
    ax.set_ylabel("residual")
    return ax
