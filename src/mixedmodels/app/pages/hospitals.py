"""The hospitals page: the binomial version of partial pooling, on editable data."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from dash import Dash, Input, Output, State, ctx, html, no_update

import mixedmodels as mm
from mixedmodels.app.code import hospitals_code
from mixedmodels.app.figures import pooling_figure
from mixedmodels.app.state import HOSPITAL_NAME, decode_hospitals, encode_hospitals
from mixedmodels.app.widgets import code_block, graph, records, register_table, table
from mixedmodels.errors import MixedModelsError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["course_hospitals", "edited", "layout", "register", "validate"]

PAGE = "hosp"
MAX_HOSPITALS = 60


def course_hospitals() -> list[dict[str, Any]]:
    """The shipped ``hospitals`` data set as table rows (A and B are the course's)."""
    frame = mm.datasets.load("hospitals")
    return [
        {"hospital": str(h), "patients": int(p), "deaths": int(d)}
        for h, p, d in zip(frame["hospital"], frame["patients"], frame["deaths"], strict=True)
    ]


def rows_from_query(query: str) -> list[dict[str, Any]]:
    """The table in the URL (``?h=A:500:21,...``), or the course's when absent or invalid."""
    pairs = dict(parse_qsl(query.lstrip("?")))
    rows = decode_hospitals(pairs["h"]) if "h" in pairs else None
    return rows if rows is not None and len(rows) <= MAX_HOSPITALS else course_hospitals()


def validate(rows: list[dict[str, Any]]) -> tuple[pd.DataFrame | None, str]:
    """The table as a frame, or None and a message naming the row and value at fault."""
    if len(rows) < 2:
        return None, "Partial pooling needs at least two hospitals."
    if len(rows) > MAX_HOSPITALS:
        return None, f"The page takes up to {MAX_HOSPITALS} hospitals."
    names: list[str] = []
    patients: list[int] = []
    deaths: list[int] = []
    for i, row in enumerate(rows, start=1):
        name = str(row.get("hospital") or "").strip()
        if not HOSPITAL_NAME.match(name):
            return None, (
                f"Row {i}: the hospital name {name!r} must be 1 to 24 letters, digits, "
                "spaces, dots or dashes."
            )
        if name in names:
            return None, f"Row {i}: the name {name!r} appears twice."
        counts = []
        for column in ("patients", "deaths"):
            value = row.get(column)
            try:
                number = float(value)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return None, f"Row {i} ({name}): {column} must be a whole number, not {value!r}."
            if not number.is_integer() or number < 0:
                return (
                    None,
                    f"Row {i} ({name}): {column} must be a whole number ≥ 0, not {value!r}.",
                )
            counts.append(int(number))
        if counts[0] == 0:
            return None, f"Row {i} ({name}): a hospital needs at least one patient."
        if counts[1] > counts[0]:
            return None, (
                f"Row {i} ({name}): {counts[1]} deaths among {counts[0]} patients is impossible."
            )
        names.append(name)
        patients.append(counts[0])
        deaths.append(counts[1])
    import pandas as pd

    return pd.DataFrame({"hospital": names, "patients": patients, "deaths": deaths}), ""


def edited(rows: list[dict[str, Any]], changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with the grid's cell edits (``cellValueChanged``) applied."""
    out = [dict(r) for r in rows]
    for change in changes:
        index = change.get("rowIndex")
        column = change.get("colId")
        if (
            isinstance(index, int)
            and 0 <= index < len(out)
            and column in ("hospital", "patients", "deaths")
        ):
            out[index][column] = change.get("value")
    return out


def layout(query: str) -> html.Div:
    rows = rows_from_query(query)
    editor = html.Div(
        [
            html.H3("The hospitals (double-click a cell to edit it)"),
            table(
                f"{PAGE}-input",
                data=rows,
                columns=[
                    {"headerName": "hospital", "field": "hospital", "cellDataType": "text"},
                    {"headerName": "patients", "field": "patients", "cellDataType": "number"},
                    {"headerName": "deaths", "field": "deaths", "cellDataType": "number"},
                ],
                editable=True,
                page_size=MAX_HOSPITALS,
                rowSelection={
                    "mode": "singleRow",
                    "checkboxes": False,
                    "enableClickSelection": True,
                },
            ),
            html.Div(
                [
                    html.Button("Add a hospital", id=f"{PAGE}-add", className="button"),
                    html.Button("Remove the selected one", id=f"{PAGE}-remove", className="button"),
                    html.Button("The course's eight", id=f"{PAGE}-reset", className="button"),
                ],
                className="button-row",
            ),
            html.P(id=f"{PAGE}-error", className="error", role="alert"),
        ],
        className="controls",
    )
    main = html.Div(
        [
            html.P(
                "Hospital A treated 500 patients and 4.2 % died; hospital B treated 5 and "
                "60 % died. Which rate should we believe? A binomial mixed model "
                "(mm.glmm, logit link) pools the hospitals partially: B's rate, resting on "
                "five patients, is pulled most of the way to the overall rate, A's hardly "
                "moves.",
                className="lead",
            ),
            html.P(id=f"{PAGE}-answer", className="note", role="status"),
            graph(f"{PAGE}-graph", "hospitals", label="Mortality rates by hospital"),
            html.H3("Rates"),
            table(f"{PAGE}-table"),
            code_block(f"{PAGE}-code"),
        ],
        className="main",
    )
    return html.Div([editor, main], className="page-grid")


def register(app: Dash) -> None:
    register_table(app, f"{PAGE}-input")
    register_table(app, f"{PAGE}-table")

    @app.callback(
        Output(f"{PAGE}-input", "rowData"),
        Input(f"{PAGE}-add", "n_clicks"),
        Input(f"{PAGE}-reset", "n_clicks"),
        Input(f"{PAGE}-remove", "n_clicks"),
        Input(f"{PAGE}-input", "cellValueChanged"),
        State(f"{PAGE}-input", "rowData"),
        State(f"{PAGE}-input", "selectedRows"),
        prevent_initial_call=True,
    )
    def edit_rows(
        add: int | None,
        reset: int | None,
        remove: int | None,
        changed: list[dict[str, Any]] | None,
        rows: list[dict[str, Any]] | None,
        selected: list[dict[str, Any]] | None,
    ) -> Any:
        rows = list(rows or [])
        if ctx.triggered_id == f"{PAGE}-reset":
            return course_hospitals()
        if ctx.triggered_id == f"{PAGE}-input":
            # the grid edits its own copy: the change comes back to the rows here
            return edited(rows, changed or [])
        if ctx.triggered_id == f"{PAGE}-remove":
            gone = {str(r.get("hospital")) for r in selected or [] if isinstance(r, dict)}
            return [r for r in rows if str(r.get("hospital")) not in gone] if gone else no_update
        taken = {str(r.get("hospital")) for r in rows}
        letter = (
            next(c for c in (chr(ord("A") + i) for i in range(26)) if c not in taken)
            if len(taken) < 26
            else f"H{len(rows) + 1}"
        )
        return [*rows, {"hospital": letter, "patients": 50, "deaths": 5}]

    @app.callback(
        Output(f"{PAGE}-graph", "figure"),
        Output(f"{PAGE}-table", "rowData"),
        Output(f"{PAGE}-table", "columnDefs"),
        Output(f"{PAGE}-answer", "children"),
        Output(f"{PAGE}-error", "children"),
        Output(f"{PAGE}-code", "children"),
        Output("url", "search", allow_duplicate=True),
        Input(f"{PAGE}-input", "rowData"),
        prevent_initial_call="initial_duplicate",
    )
    def refit(rows: list[dict[str, Any]]) -> tuple[Any, ...]:
        frame, error = validate(rows or [])
        if frame is None:
            return (no_update,) * 4 + (error, no_update, no_update)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = mm.pooling(
                    frame, response="deaths", group="hospital", family="binomial", trials="patients"
                )
        except MixedModelsError as exc:
            failed = f"The model could not be fitted: {exc}"
            return (no_update,) * 4 + (failed, no_update, no_update)
        t = result.table
        fig = pooling_figure(
            t,
            "partial",
            False,
            value_label="mortality rate",
            title="Mortality: own rate → partially pooled rate",
            percent=True,
        )
        shown = t.rename(
            columns={
                "n": "patients",
                "no_pooling": "own rate",
                "complete_pooling": "overall rate",
                "partial_pooling": "partially pooled rate",
                "se_no_pooling": "SE own",
                "se_partial": "SE pooled",
            }
        )
        data, columns = records(shown)
        answer = " ".join(
            f"{h}: {int(t['n'][h])} patients, own rate {float(t['no_pooling'][h]):.1%}, "
            f"partially pooled {float(t['partial_pooling'][h]):.1%} "
            f"(α = {float(t['alpha'][h]):.2f})."
            for h in [i for i in ("A", "B") if i in t.index]
        )
        if result.note:
            answer = f"{answer} {result.note}".strip()
        records_ = [
            {"hospital": h, "patients": int(p), "deaths": int(d)}
            for h, p, d in zip(frame["hospital"], frame["patients"], frame["deaths"], strict=True)
        ]
        query = "?" + urlencode({"h": encode_hospitals(records_)})
        code = f"```python\n{hospitals_code(records_)}\n```"
        return fig, data, columns, answer, "", code, query
