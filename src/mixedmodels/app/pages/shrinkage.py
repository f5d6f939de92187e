"""The shrinkage page: simulate clusters, pool them three ways, compare with the truth."""

from __future__ import annotations

import functools
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from dash import ALL, Dash, Input, Output, State, ctx, dcc, html, no_update

import mixedmodels as mm
from mixedmodels.app.code import shrinkage_code
from mixedmodels.app.figures import alpha_figure, pooling_figure
from mixedmodels.app.state import SHRINKAGE, Choice, Number, query_from_state, validated
from mixedmodels.app.widgets import (
    aria,
    choice,
    code_block,
    graph,
    records,
    register_table,
    seed_field,
    slider,
    table,
)
from mixedmodels.errors import MixedModelsError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PRESETS", "layout", "register"]

PAGE = "shrink"
#: Settings whose simulated data and fit are kept (a few MB at the largest settings).
COMPUTED_KEPT = 128
CONTROLS = {c.key: c for c in SHRINKAGE}
NUMBERS = {c.key: c for c in SHRINKAGE if isinstance(c, Number)}
CHOICES = {c.key: c for c in SHRINKAGE if isinstance(c, Choice)}
#: The course's five "try it" scenarios: the settings, and what to notice.
PRESETS: tuple[tuple[str, dict[str, Any], str], ...] = (
    (
        "Course defaults",
        {"J": 16, "n": 8, "su": 1.5, "se": 2.0},
        "Switch between the three views: in partial pooling the small clusters move a long "
        "way toward the dashed grand mean, the large ones hardly move.",
    ),
    (
        "σ_u = 0.2",
        {"J": 16, "n": 8, "su": 0.2, "se": 2.0},
        "The clusters barely differ, so every partial estimate collapses onto the grand "
        "mean: partial pooling becomes complete pooling.",
    ),
    (
        "σ_u = 5",
        {"J": 16, "n": 8, "su": 5.0, "se": 2.0},
        "The clusters truly differ, so the model trusts each cluster's own mean: partial "
        "pooling is almost no pooling.",
    ),
    (
        "σ_e = 5",
        {"J": 16, "n": 8, "su": 1.5, "se": 5.0},
        "Noisy observations make each cluster's own mean unreliable, so partial pooling "
        "shrinks hard toward the grand mean.",
    ),
    (
        "n̄ = 3",
        {"J": 16, "n": 3, "su": 1.5, "se": 2.0},
        "With tiny clusters every α_j is small; compare the MSEs: partial pooling often "
        "beats both extremes by a factor of two or three.",
    ),
)
VIEW_LABELS = {
    "complete": "Complete pooling",
    "none": "No pooling",
    "partial": "Partial pooling",
    "all": "All three",
}


def layout(state: dict[str, Any]) -> html.Div:
    """The page with its controls set to ``state``."""
    marks: dict[str, dict[float, str]] = {
        "J": {2: "2", 50: "50", 100: "100"},
        "n": {1: "1", 50: "50", 100: "100"},
        "su": {0.1: "0.1", 1.5: "1.5", 6: "6"},
        "se": {0.1: "0.1", 2: "2", 8: "8"},
    }
    controls = html.Div(
        [
            *[slider(PAGE, NUMBERS[k], state[k], marks[k]) for k in ("J", "n", "su", "se")],
            choice(
                PAGE, CHOICES["sizes"], state["sizes"], {"poisson": "Varying", "equal": "Equal"}
            ),
            seed_field(
                PAGE,
                state["seed"],
                html.Button("New sample", id=f"{PAGE}-resample", className="button"),
            ),
            html.Fieldset(
                [
                    html.Legend("Try the course's scenarios", className="control-label"),
                    html.Div(
                        [
                            html.Button(
                                name, id={"type": "preset", "index": i}, className="button preset"
                            )
                            for i, (name, _, _) in enumerate(PRESETS)
                        ],
                        className="presets",
                    ),
                    html.P(
                        id=f"{PAGE}-preset-note",
                        className="preset-note",
                        **aria(aria_live="polite"),
                    ),
                ],
                className="control",
            ),
        ],
        className="controls",
    )
    main = html.Div(
        [
            html.Div(
                [
                    choice(PAGE, CHOICES["view"], state["view"], VIEW_LABELS),
                    dcc.Checklist(
                        id=f"{PAGE}-truth",
                        options=[{"label": "Show the true cluster means", "value": "1"}],
                        value=["1"] if state["truth"] == "1" else [],
                        className="checkbox",
                    ),
                ],
                className="view-row",
            ),
            html.P(id=f"{PAGE}-note", className="note", role="status"),
            graph(f"{PAGE}-graph", "partial-pooling", label="Cluster estimates"),
            html.Div(
                [
                    html.Div(graph(f"{PAGE}-alpha", "alpha-against-n"), className="half"),
                    html.Div(
                        [
                            html.H3("Estimated and true"),
                            table(f"{PAGE}-estimates"),
                            html.H3("Error against the true cluster means (MSE)"),
                            table(f"{PAGE}-mse"),
                            html.Button(
                                "MSE over 200 replications",
                                id=f"{PAGE}-replicate",
                                className="button",
                            ),
                            dcc.Loading(table(f"{PAGE}-study")),
                        ],
                        className="half",
                    ),
                ],
                className="row",
            ),
            html.H3("Clusters"),
            table(f"{PAGE}-clusters", page_size=20),
            code_block(f"{PAGE}-code"),
        ],
        className="main",
    )
    return html.Div([controls, main], className="page-grid")


def _compute(state: dict[str, Any]) -> tuple[pd.DataFrame, Any]:
    """The simulated clusters and their pooling for the page's settings (the view and the
    truth switch only redraw them, so they are not part of the key)."""
    return _computed(
        int(state["J"]),
        float(state["n"]),
        float(state["su"]),
        float(state["se"]),
        str(state["sizes"]),
        int(state["seed"]),
    )


@functools.lru_cache(maxsize=COMPUTED_KEPT)
def _computed(
    J: int, n: float, su: float, se: float, sizes: str, seed: int
) -> tuple[pd.DataFrame, Any]:
    # (results are immutable and the simulation is seeded: a setting seen before, by this
    # visitor or another, is the same data and the same fit; the frame is only read)
    data = mm.simulate_clusters(J, n, su, se, sizes, seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return data, mm.pooling(data)


def register(app: Dash) -> None:
    for name in ("estimates", "mse", "study", "clusters"):
        register_table(app, f"{PAGE}-{name}")

    """Attach the page's callbacks to ``app``."""
    keys = ("J", "n", "su", "se", "sizes", "seed", "view")

    @app.callback(
        Output(f"{PAGE}-graph", "figure"),
        Output(f"{PAGE}-alpha", "figure"),
        Output(f"{PAGE}-estimates", "rowData"),
        Output(f"{PAGE}-estimates", "columnDefs"),
        Output(f"{PAGE}-mse", "rowData"),
        Output(f"{PAGE}-mse", "columnDefs"),
        Output(f"{PAGE}-clusters", "rowData"),
        Output(f"{PAGE}-clusters", "columnDefs"),
        Output(f"{PAGE}-note", "children"),
        Output(f"{PAGE}-code", "children"),
        Output("url", "search", allow_duplicate=True),
        *[Input(f"{PAGE}-{k}", "value") for k in keys],
        Input(f"{PAGE}-truth", "value"),
        prevent_initial_call="initial_duplicate",
    )
    def redraw(*values: Any) -> tuple[Any, ...]:
        state = validated("/", dict(zip(keys, values[:-1], strict=True)))
        state["truth"] = "1" if values[-1] else "0"
        try:
            data, result = _compute(state)
        except MixedModelsError as exc:
            # a setting the model cannot be fitted to (one row per cluster): say why and
            # keep the last figures
            kept = (no_update,) * 8
            return (*kept, f"These settings cannot be fitted: {exc}", no_update, no_update)
        import pandas as pd

        table_ = result.table
        # the points glide when the view changes; new data are drawn at once
        animate = ctx.triggered_id in (f"{PAGE}-view", f"{PAGE}-truth")
        fig = pooling_figure(table_, state["view"], state["truth"] == "1", animate=animate)
        grid = np.linspace(max(0.5, table_["n"].min() * 0.8), table_["n"].max() * 1.1, 60)
        curve = pd.DataFrame(
            {"n": grid, "alpha": mm.shrinkage_factor(grid, result.sigma_u, result.sigma_e)}
        )
        estimates = pd.DataFrame(
            {
                "true": [state["su"], state["se"], data.attrs["icc"]],
                "estimated": [result.sigma_u, result.sigma_e, result.icc],
            },
            index=pd.Index(["σ_u", "σ_e", "ICC"], name="quantity"),
        )
        assert result.mse is not None
        mse = pd.DataFrame(
            {"MSE": [result.mse[k] for k in ("no_pooling", "complete_pooling", "partial_pooling")]},
            index=pd.Index(["no pooling", "complete pooling", "partial pooling"], name="estimator"),
        )
        clusters = table_.rename_axis("cluster")
        est_data, est_cols = records(estimates)
        mse_data, mse_cols = records(mse)
        cl_data, cl_cols = records(clusters)
        code = f"```python\n{shrinkage_code(state)}\n```"
        return (
            fig,
            alpha_figure(table_, curve),
            est_data,
            est_cols,
            mse_data,
            mse_cols,
            cl_data,
            cl_cols,
            result.note,
            code,
            query_from_state("/", state),
        )

    @app.callback(
        Output(f"{PAGE}-J", "value"),
        Output(f"{PAGE}-n", "value"),
        Output(f"{PAGE}-su", "value"),
        Output(f"{PAGE}-se", "value"),
        Output(f"{PAGE}-preset-note", "children"),
        Input({"type": "preset", "index": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def preset(clicks: list[int | None]) -> tuple[Any, ...]:
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not any(clicks):
            return (no_update,) * 5
        name, values, note = PRESETS[int(trigger["index"])]
        return values["J"], values["n"], values["su"], values["se"], f"{name}: {note}"

    @app.callback(
        Output(f"{PAGE}-seed", "value"),
        Input(f"{PAGE}-resample", "n_clicks"),
        State(f"{PAGE}-seed", "value"),
        prevent_initial_call=True,
    )
    def resample(_: int, seed: Any) -> int:
        current = CONTROLS["seed"].parse(str(seed))
        return (int(current or 0) + 1) % (2**31 - 1)

    @app.callback(
        Output(f"{PAGE}-study", "rowData"),
        Output(f"{PAGE}-study", "columnDefs"),
        Input(f"{PAGE}-replicate", "n_clicks"),
        *[State(f"{PAGE}-{k}", "value") for k in keys],
        prevent_initial_call=True,
    )
    def replicate(_: int, *values: Any) -> tuple[Any, ...]:
        state = validated("/", dict(zip(keys, values, strict=True)))
        study = mm.pooling_study(
            200,
            int(state["J"]),
            float(state["n"]),
            float(state["su"]),
            float(state["se"]),
            state["sizes"],
            seed=int(state["seed"]),
        )
        summary = study.summary().rename(
            index=lambda s: str(s).replace("_", " "),
            columns={"mean_mse": "mean MSE", "mc_se": "Monte Carlo SE", "share_best": "share best"},
        )
        return records(summary.rename_axis("estimator (200 data sets)"))
