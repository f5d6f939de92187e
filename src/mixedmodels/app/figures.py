"""Plotly figures of the explorer. They only draw tables that the library computed.

Every figure keeps the same traces in the same order whatever the view, so that a change
of view or of data is drawn as a transition: the points glide from one estimator's value
to another's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mixedmodels.plot.figures import PALETTE

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "COLOURS",
    "OKABE_ITO",
    "VIEW_COLUMN",
    "VIEW_NAMES",
    "alpha_figure",
    "placeholder_figure",
    "pooling_figure",
    "pvalue_figure",
    "rejection_figure",
]

#: Okabe & Ito's colour-blind-safe set (with its grey, as R's palette.colors() has it).
OKABE_ITO = (
    "#000000",
    "#E69F00",
    "#56B4E9",
    "#009E73",
    "#F0E442",
    "#0072B2",
    "#D55E00",
    "#CC79A7",
    "#999999",
)
#: What each colour marks; every data colour on the pages is one of OKABE_ITO.
COLOURS = {
    **PALETTE,
    "grey": "#999999",
    "ols": "#D55E00",
    "lmm": "#009E73",
    "cluster_means": "#0072B2",
    "nominal": "#000000",
}
VIEW_COLUMN = {
    "complete": "complete_pooling",
    "none": "no_pooling",
    "partial": "partial_pooling",
    "all": "partial_pooling",
}
VIEW_NAMES = {
    "complete": "complete pooling",
    "none": "no pooling",
    "partial": "partial pooling",
    "all": "all three",
}
SYMBOLS = {"no_pooling": "circle", "complete_pooling": "square", "partial_pooling": "diamond"}
TRANSITION = {"duration": 450, "easing": "cubic-in-out"}
FONT = {"family": "system-ui, sans-serif", "size": 13}


Figure = dict[str, Any]
AXIS = {"showline": True, "linecolor": "#444", "gridcolor": "#eee", "zeroline": False}


def _layout(title: str, height: int, animate: bool = False) -> dict[str, Any]:
    """The shared look, as a plain layout dict; ``animate`` for figures whose traces keep
    their structure (Plotly's transitions fail on subplots and on axes a new figure adds)."""
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0.01, "font": {"size": 15}},
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 50, "b": 60},
        "font": FONT,
        "plot_bgcolor": "white",
        "paper_bgcolor": "white",
        "legend": {"orientation": "h", "y": -0.18, "x": 0},
        "hoverlabel": {"bgcolor": "white"},
        "xaxis": dict(AXIS),
        "yaxis": dict(AXIS),
    }
    if animate:
        layout["transition"] = TRANSITION
    return layout


def _base_layout(fig: go.Figure, title: str, height: int) -> None:
    """The shared look on a plotly Figure (for the figures off the slider path)."""
    layout = _layout(title, height)
    fig.update_layout({k: v for k, v in layout.items() if k not in ("xaxis", "yaxis")})
    fig.update_xaxes(AXIS)
    fig.update_yaxes(AXIS)


def _scatter(**trace: Any) -> dict[str, Any]:
    return {"type": "scatter", **trace}


def pooling_figure(
    table: pd.DataFrame,
    view: str,
    show_truth: bool,
    value_label: str = "cluster mean",
    title: str = "",
    animate: bool = False,
    percent: bool = False,
) -> Figure:
    """Each cluster's estimate under ``view`` ("complete", "none", "partial" or "all"),
    clusters ordered by size, the grand mean dashed; in the partial and "all" views dotted
    segments run from each cluster's own mean to its partially pooled estimate.

    ``table`` is :attr:`mixedmodels.PoolingResult.table` (``true_mean`` is drawn when
    present and ``show_truth``). With ``animate`` the change from the previous figure is
    drawn as a transition (for a change of view: Plotly delays the redraw until a
    transition ends, too slow for slider moves). ``percent`` formats the values as
    percentages. The figure is a plain dict (Plotly's figure objects validate every
    property, which took ~40 ms of each slider move).
    """
    t = table.sort_values("n", kind="stable")
    x = np.arange(len(t))
    names = [str(i) for i in t.index]
    grand = float(t["complete_pooling"].iloc[0])
    own = t["no_pooling"].to_numpy(float)
    partial = t["partial_pooling"].to_numpy(float)
    column = VIEW_COLUMN[view]
    has_truth = "true_mean" in t
    truth = t["true_mean"].to_numpy(float) if has_truth else np.full(len(t), np.nan)
    hover = [
        f"<b>{name}</b><br>n = {n:g}<br>own mean {o:.3f}<br>partial pooling {p:.3f}"
        f"<br>α = {a:.3f}" + (f"<br>true mean {m:.3f}" if has_truth else "")
        for name, n, o, p, a, m in zip(names, t["n"], own, partial, t["alpha"], truth, strict=True)
    ]
    seg_x = np.repeat(x, 3).astype(float)
    seg_x[2::3] = np.nan
    seg_y = np.column_stack([own, partial, np.full(len(t), np.nan)]).ravel()
    contraction = view in ("partial", "all")
    data = [
        _scatter(
            x=[-0.5, len(t) - 0.5],
            y=[grand, grand],
            mode="lines",
            line={"dash": "dash", "color": COLOURS["complete_pooling"], "width": 2},
            name=f"grand mean {grand:.3f}",
            hoverinfo="skip",
        ),
        _scatter(
            x=seg_x,
            y=seg_y,
            mode="lines",
            line={"dash": "dot", "color": COLOURS["grey"], "width": 1.5},
            name="contraction toward the grand mean",
            hoverinfo="skip",
            visible=contraction,
        ),
        _scatter(
            x=x,
            y=truth,
            mode="markers",
            marker={"symbol": "x-thin", "size": 11, "line": {"width": 2, "color": "#000000"}},
            name="true cluster mean",
            hoverinfo="skip",
            visible=bool(show_truth and has_truth),
        ),
        _scatter(
            x=x,
            y=own,
            mode="markers",
            marker={
                "symbol": "circle-open" if view == "partial" else "circle",
                "size": 9,
                "color": COLOURS["no_pooling"],
                "line": {"width": 1.5, "color": COLOURS["no_pooling"]},
            },
            name="no pooling (own mean)",
            hoverinfo="skip",
            visible=contraction,
        ),
        _scatter(
            x=x,
            y=np.full(len(t), grand),
            mode="markers",
            marker={"symbol": "square", "size": 8, "color": COLOURS["complete_pooling"]},
            name="complete pooling",
            hoverinfo="skip",
            visible=view == "all",
        ),
        _scatter(
            x=x,
            y=t[column].to_numpy(float),
            mode="markers",
            marker={
                "symbol": SYMBOLS[column],
                "size": 11,
                "color": COLOURS[column],
                "line": {"width": 1, "color": "#000000"},
            },
            name=VIEW_NAMES[view] if view != "all" else "partial pooling",
            text=hover,
            hovertemplate="%{text}<extra></extra>",
        ),
    ]
    layout = _layout(
        title or f"{VIEW_NAMES[view].capitalize()}: {len(t)} clusters", 440, animate=animate
    )
    ticks = [f"{name}<br>n={n:g}" for name, n in zip(names, t["n"], strict=True)]
    step = max(1, len(t) // 20)
    layout["xaxis"].update(
        tickvals=x[::step],
        ticktext=ticks[::step],
        title={"text": "clusters, from the smallest to the largest"},
        range=[-0.7, len(t) - 0.3],
    )
    layout["yaxis"].update(
        title={"text": value_label}, **({"tickformat": ".0%"} if percent else {})
    )
    return {"data": data, "layout": layout}


def alpha_figure(table: pd.DataFrame, curve: pd.DataFrame | None) -> Figure:
    """α_j against n_j (points), with the curve α(n) when given (columns ``n, alpha``);
    a plain dict, as :func:`pooling_figure`."""
    data = []
    if curve is not None:
        data.append(
            _scatter(
                x=curve["n"].to_numpy(float),
                y=curve["alpha"].to_numpy(float),
                mode="lines",
                line={"color": COLOURS["grey"], "width": 1.5},
                name="α(n) at the estimates",
                hoverinfo="skip",
            )
        )
    data.append(
        _scatter(
            x=table["n"].to_numpy(float),
            y=table["alpha"].to_numpy(float),
            mode="markers",
            marker={"color": COLOURS["partial_pooling"], "size": 8, "symbol": "diamond"},
            name="clusters",
            text=[str(i) for i in table.index],
            hovertemplate="<b>%{text}</b><br>n = %{x}<br>α = %{y:.3f}<extra></extra>",
        )
    )
    layout = _layout("Weight on the cluster's own mean, α_j", 300)
    layout.update(showlegend=False, margin={"l": 50, "r": 10, "t": 40, "b": 45})
    layout["xaxis"].update(title={"text": "cluster size n_j"}, rangemode="tozero")
    layout["yaxis"].update(title={"text": "α_j"}, range=[0, 1.02])
    return {"data": data, "layout": layout}


def rejection_figure(table: pd.DataFrame, nominal: float) -> go.Figure:
    """Rejection rates with ±2 Monte Carlo SEs, the nominal level dashed."""
    labels = {
        "ols": "OLS (ignores clusters)",
        "lmm": "mixed model",
        "cluster_means": "cluster means",
    }
    fig = go.Figure()
    fig.add_bar(
        x=[labels.get(m, m) for m in table.index],
        y=table["rejection_rate"],
        error_y={"type": "data", "array": 2 * table["mc_se"], "color": "#000000"},
        marker={"color": [COLOURS.get(m, COLOURS["grey"]) for m in table.index]},
        hovertemplate="%{x}: %{y:.1%}<extra></extra>",
        name="rejection rate",
    )
    # the labels sit above the error bars' caps (on the bar they would cross them)
    tops = table["rejection_rate"] + 2 * table["mc_se"]
    fig.add_scatter(
        x=[labels.get(m, m) for m in table.index],
        y=tops,
        mode="text",
        text=[f"{r:.1%}" for r in table["rejection_rate"]],
        textposition="top center",
        textfont={"size": 13, "color": OKABE_ITO[0]},
        hoverinfo="skip",
        name="rate labels",
    )
    fig.add_hline(
        y=nominal,
        line={"dash": "dash", "color": COLOURS["nominal"]},
        annotation_text=f"nominal {nominal:.0%}",
        annotation_position="top left",
    )
    _base_layout(fig, "Type-I error rate under the null (±2 Monte Carlo SE)", 380)
    fig.update_layout(showlegend=False)
    top = max(float(tops.max()), nominal)
    fig.update_yaxes(
        title="share of tests rejecting", tickformat=".0%", range=[0, 1.18 * top + 0.01]
    )
    return fig


def pvalue_figure(p_values: pd.DataFrame, labels: dict[str, str]) -> go.Figure:
    """Histograms of the p-values of each method (flat when the test is valid)."""
    methods = list(p_values.columns)
    fig = make_subplots(
        rows=1,
        cols=len(methods),
        subplot_titles=[labels.get(m, m) for m in methods],
        shared_yaxes=True,
    )
    bins = {"start": 0.0, "end": 1.0, "size": 0.05}
    for i, m in enumerate(methods, start=1):
        fig.add_histogram(
            x=p_values[m],
            xbins=bins,
            marker={"color": COLOURS.get(m, COLOURS["grey"])},
            name=labels.get(m, m),
            row=1,
            col=i,
        )
        fig.update_xaxes(title="p-value", range=[0, 1], row=1, col=i)
    _base_layout(fig, "p-values under the null: flat when the test is valid", 300)
    fig.update_layout(showlegend=False, bargap=0.05)
    return fig


def placeholder_figure(message: str, height: int = 300) -> dict[str, Any]:
    """A figure without axes showing ``message`` in its middle (before there is data)."""
    hidden = {"visible": False, "showgrid": False, "zeroline": False}
    return {
        "data": [],
        "layout": {
            "height": height,
            "xaxis": hidden,
            "yaxis": hidden,
            "plot_bgcolor": "rgba(0,0,0,0)",
            "paper_bgcolor": "rgba(0,0,0,0)",
            "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
            "annotations": (
                [
                    {
                        "text": message,
                        "showarrow": False,
                        "xref": "paper",
                        "yref": "paper",
                        "x": 0.5,
                        "y": 0.5,
                        "font": {"size": 15, "color": "#555555"},
                    }
                ]
                if message
                else []
            ),
        },
    }


def figure_config(filename: str) -> dict[str, Any]:
    """dcc.Graph config: a PNG download button named after the figure."""
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2},
        "modeBarButtonsToRemove": ["lasso2d", "select2d", "sendDataToCloud"],
        "showSendToCloud": False,
        "showEditInChartStudio": False,
    }
