"""Labelled, keyboard-operable controls and the shared pieces of every page."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import dash_ag_grid as dag
import numpy as np
from dash import Dash, Input, Output, dcc, html

from mixedmodels.app.figures import figure_config, placeholder_figure
from mixedmodels.app.state import Choice, Number

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "aria",
    "choice",
    "code_block",
    "column_decimals",
    "graph",
    "records",
    "register_table",
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
    """A Plotly graph with a PNG download in its toolbar, in a labelled figure region
    (without a figure: a blank one, no empty axes, until a callback draws it)."""
    return html.Div(
        dcc.Graph(
            id=ident,
            figure=figure or placeholder_figure(""),
            config=figure_config(filename),  # type: ignore[arg-type]
            className="figure",
        ),
        role="figure",
        **aria(aria_label=label or filename.replace("-", " ")),
    )


# The tables are AG Grid (dash-ag-grid, Plotly's maintained grid): Dash 4 deprecates
# dash_table.DataTable, and the explorer's tables need what a plain html.Table lacks,
# editable cells (the hospitals), paging (up to 100 clusters) and CSV export.
#: Show the export button only when its table has rows (a clientside callback).
_EXPORT_SHOWN = "function (rows) { return !(Array.isArray(rows) && rows.length > 0); }"
#: Pressing the export button asks the grid for its CSV.
_EXPORT_CLICKED = "function (n) { return Boolean(n); }"


def table(
    ident: str,
    data: Records | None = None,
    columns: Records | None = None,
    editable: bool = False,
    page_size: int | None = None,
    **grid: Any,
) -> html.Div:
    """A grid (read-only unless ``editable``) and, once it has rows, an 'Export' button
    that downloads it as CSV (its raw numbers, not the rounded ones shown).

    Parameters
    ----------
    ident : str
        The grid's id; the button is ``{ident}-export``.
    data, columns : list of dict, optional
        The first rows and column definitions (AG Grid's ``rowData`` and ``columnDefs``).
    editable : bool
        Whether cells can be edited.
    page_size : int, optional
        Rows per page, with a pager below (tables that can grow long, up to 100
        clusters); without it every row is shown and there is no pager.
    **grid
        Further :class:`dash_ag_grid.AgGrid` options, merged into ``dashGridOptions``.

    Returns
    -------
    html.Div
        The grid and its export button; :func:`register_table` wires the button.
    """
    options = {
        "domLayout": "autoHeight",
        **(
            {
                "pagination": True,
                "paginationPageSize": page_size,
                "paginationPageSizeSelector": False,
            }
            if page_size
            else {}
        ),
        "suppressColumnVirtualisation": True,
        "stopEditingWhenCellsLoseFocus": True,
        "suppressFieldDotNotation": True,  # a column named "a.b" is one column
        **grid,
    }
    return html.Div(
        [
            dag.AgGrid(
                id=ident,
                rowData=data or [],
                columnDefs=columns or [],
                defaultColDef={
                    "editable": editable,
                    "sortable": not editable,
                    "minWidth": 90,
                    "wrapHeaderText": True,  # long names on two lines, not cut short
                    "autoHeaderHeight": True,
                    "useValueFormatterForExport": False,  # the CSV has the full numbers
                },
                columnSize="responsiveSizeToFit",
                dashGridOptions=options,
                csvExportParams={"fileName": f"{ident}.csv"},
                className="ag-theme-quartz table-grid",
            ),
            html.Button(
                "Export",
                id=f"{ident}-export",
                className="button export",
                hidden=not data,
                title="Download this table as CSV",
            ),
        ],
        className="table-box",
    )


def register_table(app: Dash, ident: str) -> None:
    """Wire the export button of the table ``ident`` (shown with rows, clicked: CSV)."""
    app.clientside_callback(  # type: ignore[no-untyped-call]
        _EXPORT_SHOWN, Output(f"{ident}-export", "hidden"), Input(ident, "rowData")
    )
    app.clientside_callback(  # type: ignore[no-untyped-call]
        _EXPORT_CLICKED,
        Output(ident, "exportDataAsCsv"),
        Input(f"{ident}-export", "n_clicks"),
        prevent_initial_call=True,
    )


def column_decimals(values: pd.Series, significant: int = 5, most: int = 6) -> int:
    """Decimals that show a column's largest magnitude to ``significant`` digits (at
    most ``most``; none for whole numbers): one format for the whole column."""
    finite = np.abs(values.to_numpy(dtype=float))
    finite = finite[np.isfinite(finite)]
    if finite.size == 0 or bool(np.all(finite == np.round(finite))):
        return 0
    largest = float(finite.max())
    lead = math.floor(math.log10(largest)) if largest > 0 else 0
    return int(min(max(significant - 1 - lead, 0), most))


def records(frame: pd.DataFrame, significant: int = 5) -> tuple[Records, Records]:
    """Grid ``rowData`` and ``columnDefs`` of a frame (its index as the first column).

    Each numeric column of floats shows one number of decimals (:func:`column_decimals`),
    right-aligned, so that its numbers line up; the rows keep the full values (sorting
    and the CSV export use them).
    """
    out = frame.reset_index()
    out.columns = [str(c) for c in out.columns]
    columns: Records = []
    for c in out.columns:
        column: dict[str, Any] = {"headerName": c, "field": c}
        if out[c].dtype.kind == "f":
            decimals = column_decimals(out[c], significant)
            column.update(
                type="rightAligned",
                valueFormatter={
                    "function": f"params.value == null ? '' : d3.format('.{decimals}f')"
                    "(params.value)"
                },
            )
            column["cellDataType"] = "number"
        elif out[c].dtype.kind in "iu":
            column.update(type="rightAligned", cellDataType="number")
        columns.append(column)
    rows = [
        {
            str(k): (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in row.items()
        }
        for row in out.to_dict("records")
    ]
    return rows, columns


def code_block(ident: str) -> html.Details:
    """'Show code': the Python that reproduces the view."""
    return html.Details(
        [html.Summary("Show code"), dcc.Markdown(id=ident, className="code")],
        className="show-code",
    )
