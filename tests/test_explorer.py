"""The explorer without a browser: URL state, uploads, generated code, figures, serving."""

from __future__ import annotations

import base64
import socket
import urllib.error
import urllib.request
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mixedmodels as mm
from explorer_harness import callback_key
from mixedmodels.app.code import hospitals_code, shrinkage_code, upload_code
from mixedmodels.app.figures import OKABE_ITO, pooling_figure
from mixedmodels.app.pages.hospitals import course_hospitals, validate
from mixedmodels.app.state import (
    PAGES,
    decode_hospitals,
    encode_hospitals,
    query_from_state,
    state_from_query,
)
from mixedmodels.app.upload import (
    MAX_CLUSTERS,
    MAX_UPLOAD_BYTES,
    UploadError,
    check_columns,
    read_upload,
)
from mixedmodels.cli import main


def _payload(raw: bytes, mime: str = "text/csv") -> str:
    return f"data:{mime};base64," + base64.b64encode(raw).decode()


def _quiet_pooling(*args: Any, **kwargs: Any) -> mm.PoolingResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mm.pooling(*args, **kwargs)


# ---- URL state -------------------------------------------------------------------------


def test_state_defaults_are_the_course_defaults() -> None:
    state = state_from_query("/", "")
    assert (state["J"], state["n"], state["su"], state["se"]) == (16, 8, 1.5, 2.0)
    assert state["view"] == "partial" and state["truth"] == "0"


def test_state_is_validated_clamped_and_snapped() -> None:
    state = state_from_query("/", "?J=1e9&n=-4&su=0.23&se=nan&view=__import__('os')&x=1")
    assert state["J"] == 100 and state["n"] == 1  # clamped to the slider's range
    assert state["su"] == pytest.approx(0.2)  # snapped to the 0.1 grid
    assert state["se"] == 2.0 and state["view"] == "partial"  # invalid -> default
    assert "x" not in state
    assert isinstance(state["J"], int)


@settings(max_examples=60, deadline=None)
@given(
    J=st.integers(2, 100),
    su=st.integers(1, 60).map(lambda k: k / 10),
    view=st.sampled_from(["complete", "none", "partial", "all"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_state_round_trips_through_the_url(J: int, su: float, view: str, seed: int) -> None:
    state = {**state_from_query("/", ""), "J": J, "su": su, "view": view, "seed": seed}
    assert state_from_query("/", query_from_state("/", state)) == state


@given(st.text(max_size=200))
def test_any_query_text_gives_a_valid_state(text: str) -> None:
    for path in PAGES:
        state = state_from_query(path, text)
        assert set(state) == {c.key for c in PAGES[path]}
        assert state_from_query(path, query_from_state(path, state)) == state


def test_hospitals_in_the_url() -> None:
    rows = course_hospitals()
    assert decode_hospitals(encode_hospitals(rows)) == rows
    assert rows[0] == {"hospital": "A", "patients": 500, "deaths": 21}
    for bad in ("A:5", "A:x:1", "<script>:5:1", "A:5:1,,B:3:1", "A:-5:1"):
        assert decode_hospitals(bad) is None


def test_hospital_table_validation_names_the_row() -> None:
    frame, message = validate(course_hospitals())
    assert frame is not None and message == ""
    cases = [
        (
            [
                {"hospital": "A", "patients": 5, "deaths": 9},
                {"hospital": "B", "patients": 5, "deaths": 1},
            ],
            "Row 1 (A): 9 deaths among 5 patients",
        ),
        (
            [
                {"hospital": "A", "patients": 5, "deaths": 1},
                {"hospital": "A", "patients": 5, "deaths": 1},
            ],
            "appears twice",
        ),
        (
            [
                {"hospital": "A", "patients": "many", "deaths": 1},
                {"hospital": "B", "patients": 5, "deaths": 1},
            ],
            "patients must be a whole number, not 'many'",
        ),
        (
            [
                {"hospital": "A", "patients": 2.5, "deaths": 1},
                {"hospital": "B", "patients": 5, "deaths": 1},
            ],
            "whole number",
        ),
        ([{"hospital": "A", "patients": 5, "deaths": 1}], "at least two"),
    ]
    for rows, expected in cases:
        frame, message = validate(rows)
        assert frame is None and expected in message


# ---- uploads ---------------------------------------------------------------------------


def test_upload_reads_csv_with_other_separators() -> None:
    frame = read_upload(_payload("g;y\na;1,5\nb;2\n".replace(",5", ".5").encode()), "s.csv")
    assert list(frame.columns) == ["g", "y"] and frame["y"].tolist() == [1.5, 2.0]
    frame = read_upload(_payload("\ufeffg\ty\na\t1\nb\t2\n".encode()), "t.tsv")
    assert list(frame.columns) == ["g", "y"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "not a CSV file"),
        (b"", "is empty"),
        (b"just one column\n1\n2\n", "has 1 column"),
        (b"g,teacher\na,x\nb,y\n", "no numeric column"),
        (b'g,y\n"a,1\n', "not a CSV table"),
    ],
)
def test_bad_uploads_say_what_is_wrong(raw: bytes, message: str) -> None:
    with pytest.raises(UploadError, match=message):
        read_upload(_payload(raw), "f.csv")


def test_upload_size_limit_and_damaged_payloads() -> None:
    big = b"g,y\n" + b"a,1\n" * (MAX_UPLOAD_BYTES // 4 + 1)
    with pytest.raises(UploadError, match="up to 5.0 MB"):
        read_upload(_payload(big), "big.csv")
    with pytest.raises(UploadError, match="damaged"):
        read_upload("data:text/csv;base64,@@@@", "x.csv")
    with pytest.raises(UploadError, match="unknown form"):
        read_upload("hello", "x.csv")


def test_column_checks() -> None:
    frame = pd.DataFrame({"g": ["a", "a", "b"], "y": [1.0, 2.0, 3.0], "s": ["x", "y", "z"]})
    check_columns(frame, "y", "g")
    with pytest.raises(UploadError, match="not numeric"):
        check_columns(frame, "s", "g")
    with pytest.raises(UploadError, match="1 group with a response"):
        check_columns(frame.assign(g="a"), "y", "g")
    many = pd.DataFrame({"g": np.arange(MAX_CLUSTERS + 1), "y": 1.0})
    with pytest.raises(UploadError, match=f"up to {MAX_CLUSTERS}"):
        check_columns(many, "y", "g")


def test_pooling_never_evaluates_column_names(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    name = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    frame = pd.DataFrame({"g": list("aabbcc"), name: [1.0, 2.0, 3.0, 5.0, 4.0, 6.0]})
    result = _quiet_pooling(frame, response=name, group="g")
    assert not marker.exists()
    assert result.table["no_pooling"].tolist() == [1.5, 4.0, 5.0]


# ---- generated code --------------------------------------------------------------------


def test_shown_code_reproduces_the_shrinkage_view() -> None:
    state = {**state_from_query("/", "?J=9&n=5&su=2.5&seed=11&sizes=equal")}
    namespace: dict[str, Any] = {}
    source = shrinkage_code(state).replace("mm.plot.pooling(result)", "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(source, "code", "exec"), namespace)
    data = mm.simulate_clusters(9, 5, 2.5, 2.0, "equal", seed=11)
    expected = _quiet_pooling(data).table
    pd.testing.assert_frame_equal(namespace["result"].table, expected)


def test_shown_code_for_hospitals_and_uploads() -> None:
    namespace: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(hospitals_code(course_hospitals()), "code", "exec"), namespace)
    hospitals = mm.datasets.load("hospitals")
    expected = _quiet_pooling(
        hospitals, response="deaths", group="hospital", family="binomial", trials="patients"
    )
    np.testing.assert_allclose(
        namespace["result"].table["partial_pooling"], expected.table["partial_pooling"]
    )
    # user text enters only as string literals: the code's statements are the same as
    # for harmless names, and the names come back as constants
    import ast

    hostile = ("x'); import os; ('.csv", 'a"b', "g\nprint(1)")
    tree = ast.parse(upload_code(*hostile))
    plain = ast.parse(upload_code("scores.csv", "y", "g"))
    assert [type(n) for n in tree.body] == [type(n) for n in plain.body]
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported == {"pandas", "mixedmodels"}
    constants = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert set(hostile) <= constants


# ---- figures ---------------------------------------------------------------------------


def test_pooling_figure_keeps_its_traces_across_views() -> None:
    import plotly.graph_objects as go

    table = _quiet_pooling(mm.simulate_clusters(seed=3)).table
    views = ("complete", "none", "partial", "all")
    figures = {v: pooling_figure(table, v, True) for v in views}
    assert {len(f["data"]) for f in figures.values()} == {6}
    ordered = table.sort_values("n", kind="stable")
    columns = ("complete_pooling", "no_pooling", "partial_pooling")
    for view, column in zip(views[:3], columns, strict=True):
        np.testing.assert_array_equal(figures[view]["data"][5]["y"], ordered[column])
    assert figures["partial"]["data"][1]["visible"] and not figures["none"]["data"][1]["visible"]
    colours = set()
    for fig in figures.values():
        go.Figure(fig)  # the plain dicts are valid Plotly figures
        for t in fig["data"]:
            for part in (t.get("marker", {}), t.get("line", {})):
                if isinstance(part.get("color"), str):
                    colours.add(part["color"].upper())
    assert colours <= {c.upper() for c in OKABE_ITO}


def test_shrinkage_factor() -> None:
    alpha = mm.shrinkage_factor([1, 4, 1e9], 1.5, 2.0)
    np.testing.assert_allclose(alpha, [2.25 / (2.25 + 4), 2.25 / (2.25 + 1), 1.0])
    with pytest.raises(mm.DataError):
        mm.shrinkage_factor([0, 3], 1.0, 1.0)


# ---- serving ---------------------------------------------------------------------------


def test_explore_serves_on_localhost_and_stops() -> None:
    explorer = mm.explore(port=0)
    try:
        assert explorer.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(explorer.url, timeout=10) as reply:
            assert reply.status == 200
            assert b"mixedmodels explorer" in reply.read()
    finally:
        explorer.stop()
    with pytest.raises(mm.ModelSpecError, match="port must be"):
        mm.explore(port=70000)


def test_cli_explore_reports_a_busy_port(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        assert main(["explore", "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    assert main(["explore", "--port", "70000"]) == 2


def test_explore_shows_the_app_inline_in_a_notebook() -> None:
    """A real Jupyter kernel runs mm.explore(): the cell shows an iframe of the served app."""
    import nbclient
    import nbformat

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(f"import mixedmodels as mm\nexplorer = mm.explore(port={port})"),
        nbformat.v4.new_code_cell(
            "import urllib.request\n"
            "with urllib.request.urlopen(explorer.url, timeout=10) as reply:\n"
            "    print(reply.status, b'mixedmodels explorer' in reply.read())"
        ),
    ]
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    shown = [o for o in notebook.cells[0].outputs if o.get("output_type") == "display_data"]
    assert shown, notebook.cells[0].outputs
    html = shown[0]["data"]["text/html"]
    assert "<iframe" in html and f'src="http://127.0.0.1:{port}/"' in html
    printed = "".join(o.get("text", "") for o in notebook.cells[1].outputs)
    assert printed.strip() == "200 True"


def test_foreign_hosts_and_origins_are_refused() -> None:
    """DNS rebinding: a page elsewhere that points its name at this machine, or posts
    to it, gets 403; the loopback names are served."""
    from mixedmodels.app.server import create_app

    client = create_app().server.test_client()
    assert client.get("/", headers={"Host": "127.0.0.1:8050"}).status_code == 200
    assert client.get("/", headers={"Host": "localhost:8050"}).status_code == 200
    assert client.get("/", headers={"Host": "[::1]:8050"}).status_code == 200
    refused = client.get("/", headers={"Host": "attacker.example:8050"})
    assert refused.status_code == 403
    assert b"attacker.example" in refused.data
    post = client.post(
        "/_dash-update-component",
        data="{}",
        content_type="application/json",
        headers={"Origin": "http://attacker.example"},
    )
    assert post.status_code == 403
    # bound to every interface, any name is served
    assert (
        create_app(None).server.test_client().get("/", headers={"Host": "lab-pc.local"}).status_code
        == 200
    )


def test_plotly_js_is_served_where_dcc_graph_loads_it() -> None:
    """dash-renderer gives dcc.Graph this URL for plotly.js when Dash serves its files."""
    import importlib.resources

    from mixedmodels.app import plotlyjs

    renderer = importlib.resources.files("dash") / "dash-renderer/build/dash_renderer.min.js"
    assert f'"{plotlyjs.PATH}"' in renderer.read_text()


def test_plotly_js_is_the_plotly_package_file_after_the_compile_hint() -> None:
    import importlib.resources

    from mixedmodels.app import plotlyjs
    from mixedmodels.app.server import create_app

    installed = (importlib.resources.files("plotly") / "package_data/plotly.min.js").read_bytes()
    client = create_app().server.test_client()
    response = client.get("/" + plotlyjs.PATH)
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.data == b"//# allFunctionsCalledOnLoad\n" + installed
    # the browser's copy is checked, not fetched again
    again = client.get("/" + plotlyjs.PATH, headers={"If-None-Match": response.headers["ETag"]})
    assert (again.status_code, again.data) == (304, b"")
    # Dash's other files are still Dash's answers
    assert client.get("/_dash-component-suites/dash/dcc/async-graph.js").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"output": "nothing.here"},
        {
            "output": "page.children",
            "outputs": {"id": "page", "property": "children"},
            "inputs": [{"id": "url", "property": "pathname", "value": 5}],
            "changedPropIds": [],
            "state": [{"id": "url", "property": "search", "value": {"a": 1}}],
        },
        {
            "output": "page.children",
            "outputs": {"id": "page", "property": "children"},
            "inputs": [],
            "changedPropIds": [],
        },
    ],
)
def test_malformed_callback_payloads_get_400(body: dict) -> None:
    import json
    import logging

    from mixedmodels.app.server import create_app

    logging.getLogger("mixedmodels.explorer").setLevel(logging.ERROR)
    client = create_app().server.test_client()
    response = client.post(
        "/_dash-update-component", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert b"malformed callback request" in response.data


def test_tables_are_limited_in_columns_and_cells_before_parsing() -> None:
    import time

    from mixedmodels.app.upload import MAX_COLUMNS, UploadError, read_table

    wide = ",".join(f"c{i}" for i in range(150_000)) + "\n" + ",".join(["1"] * 150_000) + "\n"
    start = time.perf_counter()
    with pytest.raises(UploadError, match="150000 columns"):
        read_table(wide, "wide.csv")
    assert time.perf_counter() - start < 1.0  # refused from its first line
    tall = "y,g\n" + "1,a\n" * 1_100_000
    with pytest.raises(UploadError, match="cells"):
        read_table(tall, "tall.csv")
    with pytest.raises(UploadError, match="unknown form"):
        read_table(None, "stored")  # type: ignore[arg-type]
    assert read_table("y,g\n1,a\n2,b\n", "ok.csv").shape == (2, 2)
    assert MAX_COLUMNS >= 100


def test_settings_that_cannot_be_fitted_explain_themselves() -> None:
    """One row per cluster (n = 1, equal sizes): the page says why instead of failing the
    request (the figures keep their last drawing)."""
    import json

    from mixedmodels.app.server import create_app

    app = create_app()
    key, outputs = callback_key(app, "shrink-graph.figure")
    values = {
        "shrink-J": 25,
        "shrink-n": 1,
        "shrink-su": 1.5,
        "shrink-se": 2.0,
        "shrink-sizes": "equal",
        "shrink-seed": 1,
        "shrink-view": "partial",
        "shrink-truth": [],
    }
    body = {
        "output": key,
        "outputs": outputs,
        "inputs": [
            {"id": i["id"], "property": "value", "value": values[i["id"]]}
            for i in app.callback_map[key]["inputs"]
        ],
        "changedPropIds": ["shrink-n.value"],
        "state": [],
    }
    response = app.server.test_client().post(
        "/_dash-update-component", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 200
    payload = json.loads(response.data)["response"]
    assert "cannot be fitted" in payload["shrink-note"]["children"]
    assert "one observation" in payload["shrink-note"]["children"]
    assert "shrink-graph" not in payload  # the last figure stays


def _ignoring_run(clicks: int | None, sims: str) -> dict[str, Any]:
    """The 'ignoring clusters' page's simulation callback, as the browser calls it when
    the page opens (``clicks`` None) or on the button."""
    import json

    from mixedmodels.app.server import create_app

    app = create_app()
    key, outputs = callback_key(app, "ign-rates.figure")
    values = {"icc": 0.2, "J": 6, "m": 5, "covariate": "cluster", "sims": sims, "seed": 4}
    body = {
        "output": key,
        "outputs": outputs,
        "inputs": [{"id": "ign-run", "property": "n_clicks", "value": clicks}],
        "changedPropIds": [] if clicks is None else ["ign-run.n_clicks"],
        "state": [
            {"id": s["id"], "property": "value", "value": values[s["id"].removeprefix("ign-")]}
            for s in app.callback_map[key]["state"]
        ],
    }
    response = app.server.test_client().post(
        "/_dash-update-component", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 200
    return dict(json.loads(response.data)["response"])


def test_ignoring_page_opens_with_a_quick_look_and_runs_the_study_on_request() -> None:
    from mixedmodels.app.pages.ignoring import QUICK_SIMS

    first = _ignoring_run(None, "1000")
    summary = first["ign-summary"]["children"]
    assert summary.startswith(f"A first look: {QUICK_SIMS} simulated data sets")
    assert "runs the 1000 chosen" in summary
    assert f"n_sims={QUICK_SIMS}," in first["ign-code"]["children"]  # the code shown reproduces it
    quick = mm.type1_error(6, 5, 0.2, QUICK_SIMS, seed=4, progress=False)
    # (the grid's rows keep the full values; only their display is rounded)
    shown = {row["method"]: row["rejection rate"] for row in first["ign-table"]["rowData"]}
    assert shown["OLS"] == pytest.approx(quick.table.loc["ols", "rejection_rate"], rel=1e-12)
    study = _ignoring_run(1, "100")
    assert study["ign-summary"]["children"].startswith("100 simulated data sets")
    assert "n_sims=100," in study["ign-code"]["children"]


def _components(node: Any) -> Any:
    """Every Dash component in a layout, depth first."""
    yield node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if hasattr(child, "to_plotly_json"):
            yield from _components(child)


def _by_id(layout: Any) -> dict[str, Any]:
    return {c.id: c for c in _components(layout) if isinstance(getattr(c, "id", None), str)}


def test_cli_explore_prints_one_line_and_no_request_log() -> None:
    """`mixedmodels explore`: its address and nothing else, however many requests it
    answers; a malformed request still reaches the log."""
    import os
    import signal
    import subprocess
    import sys
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    code = (
        f"from mixedmodels.cli import main; raise SystemExit(main(['explore', '--port', '{port}']))"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(url, timeout=5) as reply:
                    assert reply.status == 200
                break
            except OSError:
                time.sleep(0.1)
        for path in ("", "hospitals", "_dash-layout", "_dash-dependencies", "data"):
            with urllib.request.urlopen(url + path, timeout=10) as reply:
                assert reply.status == 200
        bad = urllib.request.Request(
            url + "_dash-update-component",
            data=b'{"output": "x.children", "inputs": 3}',
            headers={"Content-Type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(bad, timeout=10)
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert out.splitlines() == [f"mixedmodels explorer: {url}  (Ctrl+C to stop)"]
    lines = err.splitlines()
    assert [line for line in lines if "malformed callback request" in line], err
    assert not [line for line in lines if "malformed" not in line], err
    for noise in ("GET /", "HTTP/1.1", "development server", "Serving Flask", "Debug mode"):
        assert noise not in out + err


def test_table_columns_share_one_format() -> None:
    """Side by side, 1.308 and 1.9911 show the same number of decimals; whole numbers
    none; the rows keep the full values for sorting and export."""
    from mixedmodels.app.widgets import column_decimals, records

    frame = pd.DataFrame(
        {
            "estimate": [1.308, 1.9911, 12.5],
            "small": [0.000123, 0.04, 0.1],
            "whole": [1.0, 2.0, 3.0],
            "n": [3, 4, 5],
        },
        index=pd.Index(["a", "b", "c"], name="cluster"),
    )
    rows, columns = records(frame)
    assert rows[0] == {"cluster": "a", "estimate": 1.308, "small": 0.000123, "whole": 1.0, "n": 3}
    specs = {}
    for column in columns:
        formatter = column.get("valueFormatter", {}).get("function", "")
        specs[column["field"]] = formatter.partition("d3.format('")[2].partition("')")[0]
    assert specs == {"cluster": "", "estimate": ".3f", "small": ".5f", "whole": ".0f", "n": ""}
    shown = [format(r["estimate"], specs["estimate"]) for r in rows]
    assert shown == ["1.308", "1.991", "12.500"]
    assert {len(s.partition(".")[2]) for s in shown} == {3}
    assert column_decimals(pd.Series([0.5, np.nan, np.inf])) == 5
    assert column_decimals(pd.Series([1e-9, 2e-9])) == 6  # at most six decimals
    assert column_decimals(pd.Series([250.25, 12.0])) == 2
    # numbers right-aligned, names not
    aligned = {c["field"]: c.get("type") for c in columns}
    assert aligned == {
        "cluster": None,
        "estimate": "rightAligned",
        "small": "rightAligned",
        "whole": "rightAligned",
        "n": "rightAligned",
    }
    nan_rows, _ = records(pd.DataFrame({"x": [np.nan, 1.5]}))
    assert nan_rows[0]["x"] is None  # JSON has no NaN: an empty cell


def test_export_buttons_wait_for_their_tables() -> None:
    """Every table's Export button is hidden while the table is empty; a callback shows
    it when rows arrive and another asks the grid for the CSV."""
    from mixedmodels.app.pages import hospitals, ignoring, shrinkage, yourdata
    from mixedmodels.app.server import create_app

    layouts = {
        "/": shrinkage.layout(state_from_query("/", "")),
        "/hospitals": hospitals.layout(""),
        "/ignoring": ignoring.layout(state_from_query("/ignoring", "")),
        "/data": yourdata.layout(state_from_query("/data", "")),
    }
    callbacks = create_app().callback_map
    grids = 0
    for path, layout in layouts.items():
        found = _by_id(layout)
        for ident, component in found.items():
            if type(component).__name__ != "AgGrid":
                continue
            grids += 1
            button = found[f"{ident}-export"]
            assert button.hidden is (not component.rowData), (path, ident)
            assert f"{ident}-export.hidden" in callbacks, ident
            assert f"{ident}.exportDataAsCsv" in callbacks, ident
    assert grids == 8
    assert _by_id(layouts["/hospitals"])["hosp-input-export"].hidden is False  # has rows


def test_no_empty_axes_before_there_is_data() -> None:
    """The Your-data figure says what to do until a data set is chosen; other figures
    are blank, without axes, until their first drawing."""
    from mixedmodels.app.pages import yourdata
    from mixedmodels.app.widgets import graph

    figure = _by_id(yourdata.layout(state_from_query("/data", "")))["data-graph"].figure
    assert figure["data"] == []
    assert figure["layout"]["xaxis"]["visible"] is False
    assert figure["layout"]["yaxis"]["visible"] is False
    assert "choose a shipped data set" in figure["layout"]["annotations"][0]["text"]
    blank = _by_id(graph("g", "g"))["g"].figure
    assert blank["layout"]["xaxis"]["visible"] is False and blank["layout"]["annotations"] == []


def test_rate_labels_sit_above_the_error_bars() -> None:
    from mixedmodels.app.figures import rejection_figure

    table = pd.DataFrame(
        {"rejection_rate": [0.15, 0.07, 0.04], "mc_se": [0.036, 0.026, 0.02]},
        index=["ols", "lmm", "cluster_means"],
    )
    fig = rejection_figure(table, 0.05)
    bars = next(t for t in fig.data if t.type == "bar")
    labels = next(t for t in fig.data if t.name == "rate labels")
    assert bars.text is None  # no label on the bar, where the error bar crosses it
    assert list(labels.text) == ["15.0%", "7.0%", "4.0%"]
    assert labels.mode == "text" and labels.textposition == "top center"
    np.testing.assert_allclose(labels.y, [0.222, 0.122, 0.08])
    assert fig.layout.yaxis.range[1] > 0.222 * 1.1  # room for the highest label


def test_hospital_edits_come_back_from_the_grid() -> None:
    from mixedmodels.app.pages.hospitals import edited

    rows = course_hospitals()
    changed = edited(rows, [{"rowIndex": 1, "colId": "deaths", "value": 4, "oldValue": 3}])
    assert changed[1] == {"hospital": "B", "patients": 5, "deaths": 4}
    assert rows[1]["deaths"] == 3  # the rows given are not changed
    ignored = [{"rowIndex": 99, "colId": "deaths", "value": 1}, {"rowIndex": 0, "colId": "x"}]
    assert edited(rows, ignored) == rows


def test_the_background_load_leaves_the_pages_first_answers_nothing_to_import() -> None:
    # the server loads the library while the browser fetches the page; what a page's
    # first callback still had to import (scipy.stats for the Type-I study's p-values,
    # 0.26 s) came on top of its first answer
    import subprocess
    import sys

    script = """
import sys, warnings
warnings.simplefilter("ignore")
from mixedmodels.app import library
library.load()
import mixedmodels as mm
import pandas as pd
before = set(sys.modules)
mm.pooling(mm.simulate_clusters(8, 10, 1.0, 2.0, "equal", seed=1))
frame = pd.DataFrame({"hospital": list("ABCD"), "deaths": [21, 3, 5, 8],
                      "patients": [500, 5, 100, 150]})
mm.pooling(frame, response="deaths", group="hospital", family="binomial", trials="patients")
mm.type1_error(n_clusters=6, cluster_size=5, icc=0.1, n_sims=3, seed=1, progress=False,
               n_jobs=1)
new = set(sys.modules) - before
print(" ".join(sorted(m for m in new if m.startswith(("scipy", "mixedmodels")))))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == []
