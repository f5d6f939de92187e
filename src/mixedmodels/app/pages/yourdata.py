"""The 'your data' page: upload a CSV and see the pooling view of its clusters."""

from __future__ import annotations

import warnings
from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, html, no_update

import mixedmodels as mm
from mixedmodels.app.code import upload_code
from mixedmodels.app.figures import placeholder_figure, pooling_figure
from mixedmodels.app.state import YOUR_DATA, query_from_state
from mixedmodels.app.upload import (
    MAX_UPLOAD_BYTES,
    UploadError,
    check_columns,
    numeric_columns,
    read_table,
    read_upload,
)
from mixedmodels.app.widgets import choice, code_block, graph, records, register_table, table
from mixedmodels.errors import MixedModelsError

__all__ = ["layout", "register"]

PAGE = "data"
CONTROLS = {c.key: c for c in YOUR_DATA}
#: What the figure says before a data set is chosen (instead of empty axes).
PLACEHOLDER = "Drop a CSV file or choose a shipped data set: its clusters appear here."
EXAMPLES = {"sleepstudy": ("Reaction", "Subject"), "Dyestuff": ("Yield", "Batch")}
VIEW_LABELS = {
    "complete": "Complete pooling",
    "none": "No pooling",
    "partial": "Partial pooling",
    "all": "All three",
}

# Runs in the browser: a file over the limit is refused before it is sent to the server.
SIZE_CHECK = f"""
function(contents, filename) {{
    if (!contents) {{ return [window.dash_clientside.no_update, ""]; }}
    var bytes = Math.floor((contents.length - contents.indexOf(",") - 1) * 3 / 4);
    if (bytes > {MAX_UPLOAD_BYTES}) {{
        var mb = (bytes / 1048576).toFixed(1);
        return [null, filename + " is " + mb + " MB; the explorer reads files up to "
            + ({MAX_UPLOAD_BYTES} / 1048576).toFixed(1) + " MB. Use a sample of the rows, "
            + "or fit it with mm.pooling() in Python."];
    }}
    return [{{"contents": contents, "filename": filename}}, ""];
}}
"""


def layout(state: dict[str, Any]) -> html.Div:
    controls = html.Div(
        [
            html.Label("Upload a CSV file", htmlFor=f"{PAGE}-upload", className="control-label"),
            dcc.Upload(
                id=f"{PAGE}-upload",
                children=html.Div(
                    ["Drop a CSV file here, or ", html.Span("choose one", className="link")]
                ),
                className="upload",
                multiple=False,
            ),
            html.P(
                f"Up to {MAX_UPLOAD_BYTES // 1048576} MB. The file stays on this computer: "
                "it is read as data by the local server and is not put in the URL.",
                className="hint",
            ),
            html.Label(
                "…or a shipped data set", htmlFor=f"{PAGE}-example", className="control-label"
            ),
            dcc.Dropdown(
                id=f"{PAGE}-example",
                options=[{"label": k, "value": k} for k in EXAMPLES],
                placeholder="choose a data set",
                clearable=False,
            ),
            html.P(id=f"{PAGE}-error", className="error", role="alert"),
            html.Label("Response (numeric)", htmlFor=f"{PAGE}-response", className="control-label"),
            dcc.Dropdown(id=f"{PAGE}-response", options=[], clearable=False),
            html.Label(
                "Group (cluster) column", htmlFor=f"{PAGE}-group", className="control-label"
            ),
            dcc.Dropdown(id=f"{PAGE}-group", options=[], clearable=False),
            choice(PAGE, CONTROLS["view"], state["view"], VIEW_LABELS),
            dcc.Store(id=f"{PAGE}-payload"),
            dcc.Store(id=f"{PAGE}-frame"),
        ],
        className="controls",
    )
    main = html.Div(
        [
            html.P(id=f"{PAGE}-status", className="note", role="status"),
            graph(
                f"{PAGE}-graph",
                "your-data-pooling",
                placeholder_figure(PLACEHOLDER),
                label="Pooling view of your data",
            ),
            html.H3("Clusters"),
            table(f"{PAGE}-table", page_size=20),
            code_block(f"{PAGE}-code"),
        ],
        className="main",
    )
    return html.Div([controls, main], className="page-grid")


def register(app: Dash) -> None:
    register_table(app, f"{PAGE}-table")
    app.clientside_callback(  # type: ignore[no-untyped-call]
        SIZE_CHECK,
        Output(f"{PAGE}-payload", "data"),
        Output(f"{PAGE}-error", "children", allow_duplicate=True),
        Input(f"{PAGE}-upload", "contents"),
        State(f"{PAGE}-upload", "filename"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(f"{PAGE}-frame", "data"),
        Output(f"{PAGE}-response", "options"),
        Output(f"{PAGE}-response", "value"),
        Output(f"{PAGE}-group", "options"),
        Output(f"{PAGE}-group", "value"),
        Output(f"{PAGE}-error", "children", allow_duplicate=True),
        Input(f"{PAGE}-payload", "data"),
        Input(f"{PAGE}-example", "value"),
        prevent_initial_call=True,
    )
    def load(payload: dict[str, str] | None, example: str | None) -> tuple[Any, ...]:

        if ctx.triggered_id == f"{PAGE}-example" and example in EXAMPLES:
            frame = mm.datasets.load(example)
            response, group = EXAMPLES[example]
            name = str(example)
        elif payload:
            try:
                frame = read_upload(
                    str(payload.get("contents", "")), str(payload.get("filename", ""))
                )
            except UploadError as exc:
                return (None, [], None, [], None, str(exc))
            numeric = numeric_columns(frame)
            response = numeric[0]
            others = [c for c in frame.columns if c != response]
            group = next((c for c in others if frame[c].dtype.kind != "f"), others[0])
            name = str(payload.get("filename", "data.csv"))
        else:
            return (no_update,) * 6
        stored = {"name": name, "csv": frame.to_csv(index=False), "example": str(name in EXAMPLES)}
        numeric = numeric_columns(frame)
        return (
            stored,
            [{"label": c, "value": c} for c in numeric],
            response,
            [{"label": c, "value": c} for c in frame.columns],
            group,
            "",
        )

    @app.callback(
        Output(f"{PAGE}-graph", "figure"),
        Output(f"{PAGE}-table", "rowData"),
        Output(f"{PAGE}-table", "columnDefs"),
        Output(f"{PAGE}-status", "children"),
        Output(f"{PAGE}-error", "children", allow_duplicate=True),
        Output(f"{PAGE}-code", "children"),
        Output("url", "search", allow_duplicate=True),
        Input(f"{PAGE}-frame", "data"),
        Input(f"{PAGE}-response", "value"),
        Input(f"{PAGE}-group", "value"),
        Input(f"{PAGE}-view", "value"),
        prevent_initial_call=True,
    )
    def draw(
        stored: dict[str, str] | None, response: str | None, group: str | None, view: str
    ) -> tuple[Any, ...]:
        state = {"view": CONTROLS["view"].parse(str(view)) or "partial"}
        query = query_from_state("/data", state)
        if not stored or not response or not group:
            return (no_update,) * 6 + (query,)
        if (
            not isinstance(stored, dict)
            or not isinstance(response, str)
            or not isinstance(group, str)
        ):
            raise TypeError("the stored table and the chosen columns must be a table and names")
        name = str(stored.get("name", "the table"))
        try:
            # the store comes back from the browser: its limits are checked again
            frame = read_table(stored.get("csv"), name)  # type: ignore[arg-type]
            check_columns(frame, response, group)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = mm.pooling(frame, response=response, group=group)
        except (UploadError, MixedModelsError) as exc:
            return (no_update,) * 4 + (str(exc), no_update, query)
        t = result.table
        fig = pooling_figure(
            t,
            state["view"],
            False,
            value_label=response,
            title=f"{name}: {response} by {group}",
            animate=ctx.triggered_id == f"{PAGE}-view",  # glide between views only
        )
        data, columns = records(t.rename_axis(group))
        status = (
            f"{len(t)} clusters, {int(t['n'].sum())} rows; estimated σ_u = {result.sigma_u:.3g}, "
            f"σ_e = {result.sigma_e:.3g}, ICC = {result.icc:.2f}. {result.note}"
        ).strip()
        snippet = upload_code(name, response, group, stored.get("example") == "True")
        code = f"```python\n{snippet}\n```"
        return fig, data, columns, status, "", code, query
