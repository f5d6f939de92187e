"""Labelled, keyboard-operable controls and the shared pieces of every page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dash import dash_table, dcc, html

from mixedmodels.app.figures import figure_config
from mixedmodels.app.state import Choice, Number

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "aria",
    "choice",
    "code_block",
    "graph",
    "records",
    "seed_field",
    "slider",
    "table",
]

Records = list[dict[str, Any]]


def aria(**attributes: str) -> dict[str, Any]:
    """HTML attributes with dashes for Dash's html components (``aria_live`` becomes
    ``aria-live``, ``data_label`` becomes ``data-label``)."""
    return {k.replace("_", "-"): v for k, v in attributes.items()}


def slider(page: str, control: Number, value: float, marks: dict[float, str]) -> html.Div:
    """A slider with a visible label; the label also names the slider's thumb and its
    number field for screen readers (``assets/a11y.js`` copies ``data-label``)."""
    ident = f"{page}-{control.key}"
    return html.Div(
        [
            html.Label(control.label, id=f"{ident}-label", className="control-label"),
            dcc.Slider(
                id=ident,
                min=control.low,
                max=control.high,
                step=control.step,
                value=value,
                marks={(int(k) if float(k).is_integer() else k): v for k, v in marks.items()},
                updatemode="mouseup",
                allow_direct_input=True,
            ),
        ],
        className="control",
        **aria(data_label=control.label),
    )


def choice(page: str, control: Choice, value: str, labels: dict[str, str]) -> html.Fieldset:
    """Radio buttons in a fieldset whose legend is the control's label."""
    return html.Fieldset(
        [
            html.Legend(control.label, className="control-label"),
            dcc.RadioItems(
                id=f"{page}-{control.key}",
                options=[{"label": labels[o], "value": o} for o in control.options],
                value=value,
                inline=True,
                className="radio",
            ),
        ],
        className="control",
    )


def seed_field(page: str, value: int, *extra: Any) -> html.Div:
    """A labelled number field for the random seed (``extra``: buttons beside it)."""
    return html.Div(
        [
            html.Label("Seed", htmlFor=f"{page}-seed", className="control-label"),
            dcc.Input(
                id=f"{page}-seed",
                type="number",
                min=0,
                step=1,
                value=value,
                debounce=True,
                className="seed",
            ),
            *extra,
        ],
        className="control seed-row",
    )


def graph(ident: str, filename: str, figure: Any = None, label: str = "") -> html.Div:
    """A Plotly graph with a PNG download in its toolbar, in a labelled figure region."""
    return html.Div(
        dcc.Graph(
            id=ident,
            figure=figure or {"data": [], "layout": {"height": 300}},
            config=figure_config(filename),  # type: ignore[arg-type]
            className="figure",
        ),
        role="figure",
        **aria(aria_label=label or filename.replace("-", " ")),
    )


def table(ident: str, **kwargs: Any) -> Any:
    """A table (read-only unless ``editable=True``) with an 'Export' button that downloads
    it as CSV."""
    return dash_table.DataTable(  # type: ignore[attr-defined]
        id=ident,
        export_format="csv",
        export_headers="display",
        style_table={"overflowX": "auto"},
        style_cell={"fontFamily": "system-ui, sans-serif", "fontSize": 13, "padding": "4px 8px"},
        style_header={"fontWeight": "600", "backgroundColor": "#f2f2f2"},
        page_size=kwargs.pop("page_size", 100),
        **kwargs,
    )


def records(frame: pd.DataFrame, digits: int = 4) -> tuple[Records, Records]:
    """DataTable ``data`` and ``columns`` of a frame (its index as the first column)."""
    out = frame.reset_index()
    out.columns = [str(c) for c in out.columns]
    columns: Records = [
        {
            "name": c,
            "id": c,
            **(
                {"type": "numeric", "format": {"specifier": f".{digits}~f"}}
                if out[c].dtype.kind == "f"
                else {}
            ),
        }
        for c in out.columns
    ]
    rows = [{str(k): v for k, v in row.items()} for row in out.to_dict("records")]
    return rows, columns


def code_block(ident: str) -> html.Details:
    """'Show code': the Python that reproduces the view."""
    return html.Details(
        [html.Summary("Show code"), dcc.Markdown(id=ident, className="code")],
        className="show-code",
    )
