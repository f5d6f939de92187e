"""The 'ignoring clusters' page: Type-I error of OLS, the mixed model and cluster means."""

from __future__ import annotations

import math
from typing import Any

from dash import Dash, Input, Output, State, dcc, html

import mixedmodels as mm
from mixedmodels.app.code import ignoring_code
from mixedmodels.app.figures import pvalue_figure, rejection_figure
from mixedmodels.app.state import IGNORING, Choice, Number, query_from_state, validated
from mixedmodels.app.widgets import (
    choice,
    code_block,
    graph,
    records,
    register_table,
    seed_field,
    slider,
    table,
)

__all__ = ["layout", "register"]

PAGE = "ign"
NUMBERS = {c.key: c for c in IGNORING if isinstance(c, Number)}
CHOICES = {c.key: c for c in IGNORING if isinstance(c, Choice)}
KEYS = ("icc", "J", "m", "covariate", "sims", "seed")
NOMINAL = 0.05
#: Simulations of the first view, drawn when the page opens (about 0.15 s, in this
#: process); the chosen number runs on request, on every core.
QUICK_SIMS = 50


def layout(state: dict[str, Any]) -> html.Div:
    marks: dict[str, dict[float, str]] = {
        "icc": {0: "0", 0.5: "0.5", 0.9: "0.9"},
        "J": {3: "3", 30: "30", 60: "60"},
        "m": {2: "2", 30: "30", 60: "60"},
    }
    controls = html.Div(
        [
            *[slider(PAGE, NUMBERS[k], state[k], marks[k]) for k in ("icc", "J", "m")],
            choice(
                PAGE,
                CHOICES["covariate"],
                state["covariate"],
                {"cluster": "between clusters", "within": "within clusters"},
            ),
            choice(PAGE, CHOICES["sims"], state["sims"], {s: s for s in CHOICES["sims"].options}),
            seed_field(PAGE, state["seed"]),
            html.Button("Run the simulations", id=f"{PAGE}-run", className="button primary"),
        ],
        className="controls",
    )
    main = html.Div(
        [
            html.P(
                "Data with no effect of x at all, clustered with the ICC you choose. "
                "Each test should reject 5 % of the time. Ordinary regression (OLS) "
                "treats every row as independent and rejects far more often when x "
                "varies between clusters; the mixed model and the regression on cluster "
                "means keep to 5 %.",
                className="lead",
            ),
            dcc.Loading(
                [
                    html.P(id=f"{PAGE}-summary", className="note", role="status"),
                    graph(f"{PAGE}-rates", "type1-rates", label="Type-I error rates"),
                    graph(f"{PAGE}-pvalues", "p-value-histograms", label="p-value histograms"),
                    table(f"{PAGE}-table"),
                ]
            ),
            code_block(f"{PAGE}-code"),
        ],
        className="main",
    )
    return html.Div([controls, main], className="page-grid")


def register(app: Dash) -> None:
    register_table(app, f"{PAGE}-table")

    @app.callback(
        Output("url", "search", allow_duplicate=True),
        *[Input(f"{PAGE}-{k}", "value") for k in KEYS],
        prevent_initial_call=True,
    )
    def remember(*values: Any) -> str:
        return query_from_state(
            "/ignoring", validated("/ignoring", dict(zip(KEYS, values, strict=True)))
        )

    @app.callback(
        Output(f"{PAGE}-rates", "figure"),
        Output(f"{PAGE}-pvalues", "figure"),
        Output(f"{PAGE}-table", "rowData"),
        Output(f"{PAGE}-table", "columnDefs"),
        Output(f"{PAGE}-summary", "children"),
        Output(f"{PAGE}-code", "children"),
        Input(f"{PAGE}-run", "n_clicks"),
        *[State(f"{PAGE}-{k}", "value") for k in KEYS],
    )
    def run(clicks: int | None, *values: Any) -> tuple[Any, ...]:
        state = validated("/ignoring", dict(zip(KEYS, values, strict=True)))
        requested = int(state["sims"])
        quick = not clicks  # the page has just opened: a first look, not the study
        if quick:
            state = {**state, "sims": str(QUICK_SIMS)}
        result = mm.type1_error(
            n_clusters=int(state["J"]),
            cluster_size=int(state["m"]),
            icc=float(state["icc"]),
            n_sims=int(state["sims"]),
            covariate=state["covariate"],
            seed=int(state["seed"]),
            progress=False,
            n_jobs=1 if quick else -1,
        )
        import pandas as pd

        labels = {"ols": "OLS", "lmm": "mixed model", "cluster_means": "cluster means"}
        shown = pd.DataFrame(
            {
                "rejection rate": result.table["rejection_rate"],
                "Monte Carlo SE": result.table["mc_se"],
            }
        ).rename(index=labels)
        data, columns = records(shown.rename_axis("method"))
        rates = result.table["rejection_rate"]
        varies = "between" if state["covariate"] == "cluster" else "within"
        summary = (
            f"{int(state['sims'])} simulated data sets of {state['J']} clusters × {state['m']} "
            f"rows, ICC {state['icc']:g}, x varying {varies} "
            f"clusters: OLS rejects {rates['ols']:.1%}, the mixed model {rates['lmm']:.1%}, "
            f"cluster means {rates['cluster_means']:.1%} (nominal 5 %). Design effect "
            f"1 + (m − 1) ICC = {result.design_effect:.2f}."
        )
        if quick:
            margin = 200 * math.sqrt(NOMINAL * (1 - NOMINAL) / QUICK_SIMS)
            summary = (
                f"A first look: {summary} From {QUICK_SIMS} data sets a rate of 5 % is "
                f"known to within about ±{margin:.0f} points (twice its Monte Carlo SE); "
                f"“Run the simulations” runs the {requested} chosen."
            )
        return (
            rejection_figure(result.table, NOMINAL),
            pvalue_figure(result.p_values, labels),
            data,
            columns,
            summary,
            f"```python\n{ignoring_code(state)}\n```",
        )
