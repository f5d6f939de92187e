"""The explorer end to end: a live server and Debian's Chromium, driven by Playwright.

Each page is loaded without console errors, operated from the keyboard and checked
against the library's own functions; screenshots of each page go to docs/. With
MIXEDMODELS_BENCH_EXPLORER=1 the redraw test also times slider moves and writes
benchmarks/explorer_redraw.md (timings are reported, never asserted).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

import mixedmodels as mm
from explorer_harness import (
    CHROMIUM_ARGS,
    chromium_path,
    estimates,
    graph_data,
    live_server,
    trace,
    wait_for_clusters,
    wait_for_text,
)
from mixedmodels.app.figures import OKABE_ITO
from mixedmodels.app.pages.ignoring import QUICK_SIMS
from mixedmodels.app.server import create_app
from mixedmodels.app.upload import MAX_UPLOAD_BYTES
from tiers import full_tier

pytestmark = full_tier

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
BENCH = os.environ.get("MIXEDMODELS_BENCH_EXPLORER") == "1"
sys.path.insert(0, str(ROOT / "benchmarks"))

import startup  # noqa: E402


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with live_server(create_app()) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab that records console errors; the test fails if any appear."""
    context = browser.new_context(viewport={"width": 1300, "height": 1000}, accept_downloads=True)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.set_default_timeout(60_000)
    yield tab
    context.close()
    assert errors == [], f"console errors: {errors}"


def _pooled(J: int, n: float, su: float, se: float, sizes: str, seed: int) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = mm.simulate_clusters(J, n, su, se, sizes, seed=seed)
        return mm.pooling(data).table.sort_values("n", kind="stable")


def _transition_ms(page: Page, ident: str) -> float:
    return float(
        page.evaluate(
            "id => { const t = document.querySelector('#' + id + ' .js-plotly-plot')"
            ".layout.transition; return t && t.duration ? t.duration : 0; }",
            ident,
        )
    )


def cells(page: Page, grid: str, column: str) -> list[str]:
    """The shown texts of a column of a grid (its body cells, in the order of its rows)."""
    return list(
        page.evaluate(
            """([grid, column]) => Array.from(document.querySelectorAll(
                `#${grid} .ag-center-cols-container .ag-row`))
                .sort((a, b) => a.getAttribute('row-index') - b.getAttribute('row-index'))
                .map(r => r.querySelector(`.ag-cell[col-id="${column}"]`).innerText)""",
            [grid, column],
        )
    )


def rounding(texts: list[str]) -> float:
    """Half a unit of the last decimal shown, after asserting that every number in the
    column shows the same number of decimals (and that the column has numbers)."""
    decimals = {len(t.partition(".")[2]) for t in texts}
    assert len(decimals) == 1 and texts, texts
    return 0.5 * 10.0 ** -decimals.pop()


def _slider(page: Page, name: str) -> Any:
    return page.get_by_role("slider", name=name)


def test_shrinkage_page_matches_the_library(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    wait_for_clusters(page, "shrink-graph", 16)
    partial = estimates(page, "shrink-graph")
    expected = _pooled(16, 8, 1.5, 2.0, "poisson", 1)
    np.testing.assert_allclose(partial["y"], expected["partial_pooling"], rtol=0, atol=1e-12)
    own = trace(page, "shrink-graph", "no pooling")
    np.testing.assert_allclose(own["y"], expected["no_pooling"], rtol=0, atol=1e-12)
    grand = trace(page, "shrink-graph", "grand mean")
    assert grand["y"][0] == pytest.approx(expected["complete_pooling"].iloc[0], abs=1e-12)
    assert trace(page, "shrink-graph", "contraction")["visible"] is True
    # the clusters table holds the same numbers (rounded for display), each column with
    # one number of decimals
    texts = cells(page, "shrink-clusters", "partial_pooling")
    shown = sorted(float(c.replace("−", "-")) for c in texts)
    np.testing.assert_allclose(shown, np.sort(expected["partial_pooling"]), atol=rounding(texts))
    for column in ("no_pooling", "se_partial", "alpha"):
        rounding(cells(page, "shrink-clusters", column))
    # the study's table and its export button appear only when the button is pressed
    assert page.locator("#shrink-clusters-export").is_visible()
    assert not page.locator("#shrink-study-export").is_visible()
    assert page.locator("#shrink-study .ag-cell").count() == 0
    page.wait_for_timeout(1000)  # let the figure's transition finish before the picture
    page.screenshot(path=str(DOCS / "explorer-shrinkage.png"), full_page=True)


def test_moving_J_by_keyboard_redraws_and_updates_the_url(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    wait_for_clusters(page, "shrink-graph", 16)
    thumb = _slider(page, "Number of clusters J")
    thumb.focus()
    page.keyboard.press("ArrowRight")
    wait_for_clusters(page, "shrink-graph", 17)
    page.keyboard.press("ArrowRight")
    wait_for_clusters(page, "shrink-graph", 18)
    page.wait_for_function("() => location.search.includes('J=18')")
    # new data are drawn at once (a transition would hold the redraw back)
    assert _transition_ms(page, "shrink-graph") == 0
    expected = _pooled(18, 8, 1.5, 2.0, "poisson", 1)
    partial = estimates(page, "shrink-graph")
    np.testing.assert_allclose(partial["y"], expected["partial_pooling"], atol=1e-12)
    # the shared URL restores the view in a new tab
    shared = page.url
    other = page.context.new_page()
    other.goto(shared)
    wait_for_clusters(other, "shrink-graph", 18)
    assert _slider(other, "Number of clusters J").get_attribute("aria-valuenow") == "18"
    other.close()


def test_url_state_views_truth_and_new_sample(page: Page, base_url: str) -> None:
    page.goto(base_url + "/?J=20&n=5&su=3&se=2.5&sizes=equal&seed=7&view=all&truth=1")
    wait_for_clusters(page, "shrink-graph", 20)
    expected = _pooled(20, 5, 3.0, 2.5, "equal", 7)
    np.testing.assert_allclose(
        estimates(page, "shrink-graph")["y"], expected["partial_pooling"], atol=1e-12
    )
    truth = trace(page, "shrink-graph", "true cluster mean")
    assert truth["visible"] is True
    np.testing.assert_allclose(truth["y"], expected["true_mean"], atol=1e-12)
    assert trace(page, "shrink-graph", "complete pooling")["visible"] is True
    assert page.get_by_role("radio", name="All three").is_checked()
    # complete pooling view: every estimate at the grand mean, no contraction lines
    page.get_by_role("radio", name="Complete pooling").check()
    page.wait_for_function("() => location.search.includes('view=complete')")
    page.wait_for_function(
        "() => document.querySelector('#shrink-graph .js-plotly-plot')._fullData[5].name"
        " === 'complete pooling'"
    )
    est = estimates(page, "shrink-graph")
    assert np.ptp(est["y"]) == 0
    # a change of view is animated (the points glide to their new values)
    assert _transition_ms(page, "shrink-graph") > 0
    assert est["y"][0] == pytest.approx(expected["complete_pooling"].iloc[0], abs=1e-12)
    # a new sample is the next seed
    page.get_by_role("button", name="New sample").click()
    page.wait_for_function("() => location.search.includes('seed=8')")
    page.get_by_role("radio", name="No pooling").check()
    page.wait_for_function(
        "() => document.querySelector('#shrink-graph .js-plotly-plot')._fullData[5].name"
        " === 'no pooling'"
    )
    np.testing.assert_allclose(
        estimates(page, "shrink-graph")["y"],
        _pooled(20, 5, 3.0, 2.5, "equal", 8)["no_pooling"],
        atol=1e-12,
    )


def test_sigma_u_preset_collapses_onto_the_grand_mean(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    wait_for_clusters(page, "shrink-graph", 16)
    page.get_by_role("button", name="σ_u = 0.2").click()
    page.wait_for_function("() => location.search.includes('su=0.2')")
    wait_for_text(page, "#shrink-preset-note", "collapses")
    page.wait_for_function(
        "() => { const d = document.querySelector('#shrink-graph .js-plotly-plot')._fullData;"
        " return d[5].y.length === 16; }"
    )
    expected = _pooled(16, 8, 0.2, 2.0, "poisson", 1)
    partial = np.asarray(estimates(page, "shrink-graph")["y"])
    own = np.asarray(trace(page, "shrink-graph", "no pooling")["y"])
    grand = trace(page, "shrink-graph", "grand mean")["y"][0]
    np.testing.assert_allclose(partial, expected["partial_pooling"], atol=1e-12)
    # every partial estimate sits near the grand mean: within a quarter of the spread of
    # the clusters' own means around it
    assert np.max(np.abs(partial - grand)) <= 0.25 * np.max(np.abs(own - grand))
    # on this sample sigma_u is estimated as zero, and the page says so in plain words
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        note = mm.pooling(mm.simulate_clusters(16, 8, 0.2, 2.0, seed=1)).note
    assert "estimated as zero" in note
    assert wait_for_text(page, "#shrink-note", "estimated as zero") == note


def test_replications_table_equals_pooling_study(page: Page, base_url: str) -> None:
    page.goto(base_url + "/?J=8&n=4")
    wait_for_clusters(page, "shrink-graph", 8)
    page.get_by_role("button", name="MSE over 200 replications").click()
    page.locator("#shrink-study .ag-cell[col-id='mean MSE']").first.wait_for(timeout=120_000)
    texts = cells(page, "shrink-study", "mean MSE")
    shown = [float(c) for c in texts]
    study = mm.pooling_study(200, 8, 4, 1.5, 2.0, "poisson", seed=1).summary()
    np.testing.assert_allclose(shown, study["mean_mse"], atol=rounding(texts))
    assert page.locator("#shrink-study-export").is_visible()


def test_keyboard_and_labels(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    wait_for_clusters(page, "shrink-graph", 16)
    unnamed = page.evaluate(
        """() => {
            const bad = [];
            document.querySelectorAll('[role=slider]').forEach(e => {
                if (!e.getAttribute('aria-label')) bad.push(e.outerHTML.slice(0, 80)); });
            document.querySelectorAll('input').forEach(e => {
                const labelled = e.getAttribute('aria-label') || (e.id &&
                    document.querySelector('label[for="' + e.id + '"]')) || e.closest('label');
                if (!labelled) bad.push(e.outerHTML.slice(0, 80)); });
            return bad;
        }"""
    )
    assert unnamed == []
    # Tab alone reaches every slider, the view choice and the preset buttons
    reached = set()
    page.locator("body").focus()
    for _ in range(60):
        page.keyboard.press("Tab")
        reached.add(
            page.evaluate(
                "() => { const e = document.activeElement; return e.getAttribute('aria-label')"
                " || (e.labels && e.labels[0] && e.labels[0].innerText) || e.innerText || ''; }"
            ).strip()
        )
    for name in (
        "Number of clusters J",
        "Mean cluster size n̄",
        "Between-cluster SD σ_u",
        "Within-cluster SD σ_e",
        "New sample",
        "σ_u = 0.2",
        "n̄ = 3",
    ):
        assert name in reached, f"{name!r} not reached by Tab; reached {sorted(reached)}"
    # σ_e from the keyboard: End jumps to the maximum
    _slider(page, "Within-cluster SD σ_e").focus()
    page.keyboard.press("End")
    page.wait_for_function("() => location.search.includes('se=8')")
    # every colour in the figures is from the colour-blind-safe set
    colours = set()
    for ident in ("shrink-graph", "shrink-alpha"):
        for t in graph_data(page, ident):
            for part in (t["marker"], t["line"]):
                if isinstance(part.get("color"), str):
                    colours.add(part["color"].upper())
                outline = part.get("line")
                if isinstance(outline, dict) and outline.get("width", 0) > 0:
                    if isinstance(outline.get("color"), str):
                        colours.add(outline["color"].upper())
    assert colours and colours <= {c.upper() for c in OKABE_ITO}


def test_downloads_csv_png_and_show_code(page: Page, base_url: str) -> None:
    page.goto(base_url + "/?J=12&seed=3")
    wait_for_clusters(page, "shrink-graph", 12)
    with page.expect_download() as info:
        page.locator("#shrink-clusters-export").click()
    csv = pd.read_csv(info.value.path())
    expected = _pooled(12, 8, 1.5, 2.0, "poisson", 3).sort_index()
    assert list(csv["cluster"]) == list(expected.index)
    np.testing.assert_allclose(csv["partial_pooling"], expected["partial_pooling"], atol=1e-12)
    page.locator("#shrink-graph").hover()
    with page.expect_download() as png:
        page.locator("#shrink-graph").get_by_role("button", name="Download plot as a PNG").click()
    assert Path(png.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page.get_by_text("Show code").first.click()
    code = page.locator("#shrink-code code").inner_text()
    namespace: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import matplotlib

        matplotlib.use("Agg")
        exec(compile(code, "show-code", "exec"), namespace)  # the page's own generated code
    table = namespace["result"].table.sort_values("n", kind="stable")
    np.testing.assert_allclose(
        estimates(page, "shrink-graph")["y"], table["partial_pooling"], atol=1e-12
    )


def test_hospitals_page(page: Page, base_url: str) -> None:
    page.goto(base_url + "/hospitals")
    wait_for_text(page, "#hosp-answer", "B:")
    hospitals = mm.datasets.load("hospitals")
    # the answer's text can arrive before Plotly has drawn the figure's traces
    wait_for_clusters(page, "hosp-graph", len(hospitals))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = mm.pooling(
            hospitals, response="deaths", group="hospital", family="binomial", trials="patients"
        )
    expected = result.table.sort_values("n", kind="stable")
    np.testing.assert_allclose(
        estimates(page, "hosp-graph")["y"], expected["partial_pooling"], atol=1e-12
    )
    answer = page.locator("#hosp-answer").inner_text()
    assert f"{expected.loc['B', 'partial_pooling']:.1%}" in answer
    page.wait_for_timeout(1000)  # let the figure's transition finish before the picture
    page.screenshot(path=str(DOCS / "explorer-hospitals.png"), full_page=True)
    # the rates table shows what the fit returned, one number of decimals per column
    rates = cells(page, "hosp-table", "partially pooled rate")
    names = cells(page, "hosp-table", "hospital")
    np.testing.assert_allclose(
        [float(r) for r in rates],
        result.table.loc[names, "partial_pooling"],
        atol=rounding(rates),
    )
    # edit B's deaths from 3 to 4 in the table
    page.locator("#hosp-input .ag-row[row-index='1'] .ag-cell[col-id='deaths']").click()
    page.keyboard.type("4")
    page.keyboard.press("Enter")
    page.wait_for_function("() => location.search.includes('B%3A5%3A4')")
    edited = hospitals.assign(deaths=np.where(hospitals["hospital"] == "B", 4, hospitals["deaths"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = mm.pooling(
            edited, response="deaths", group="hospital", family="binomial", trials="patients"
        ).table.sort_values("n", kind="stable")
    page.wait_for_function(
        "v => Math.abs(document.querySelector('#hosp-graph .js-plotly-plot')._fullData[5].y[0] - v)"
        " < 1e-12",
        arg=float(again["partial_pooling"].iloc[0]),
    )
    # select H and remove it: the fit and the URL follow
    page.locator("#hosp-input .ag-row[row-index='7'] .ag-cell[col-id='hospital']").click()
    page.get_by_role("button", name="Remove the selected one").click()
    page.wait_for_function("() => !location.search.includes('H%3A')")
    wait_for_clusters(page, "hosp-graph", len(hospitals) - 1)
    # an impossible table names the row and value, and keeps the last good figure
    page.goto(base_url + "/hospitals?h=A:5:9,B:50:1")
    assert "9 deaths among 5 patients" in wait_for_text(page, "#hosp-error")


def test_ignoring_clusters_page(page: Page, base_url: str) -> None:
    page.goto(base_url + "/ignoring?icc=0.2&J=6&m=5&sims=100&seed=4")
    # the page opens with a quick look at a few data sets; the 100 chosen run on request
    first = wait_for_text(page, "#ign-summary", "A first look")
    assert "runs the 100 chosen" in first
    quick = mm.type1_error(6, 5, 0.2, QUICK_SIMS, seed=4, progress=False)
    bars = trace(page, "ign-rates", "rejection rate")
    np.testing.assert_allclose(bars["y"], quick.table["rejection_rate"], atol=1e-12)
    assert [len(h["x"]) for h in graph_data(page, "ign-pvalues")] == [QUICK_SIMS] * 3
    page.get_by_role("button", name="Run the simulations").click()
    wait_for_text(page, "#ign-summary", "100 simulated data sets", timeout=120_000)
    result = mm.type1_error(6, 5, 0.2, 100, seed=4, progress=False)
    bars = trace(page, "ign-rates", "rejection rate")
    np.testing.assert_allclose(bars["y"], result.table["rejection_rate"], atol=1e-12)
    histograms = graph_data(page, "ign-pvalues")
    assert [len(h["x"]) for h in histograms] == [100, 100, 100]
    # each rate's label sits above its error bar, not across it
    labels = trace(page, "ign-rates", "rate labels")
    assert labels["text"] == [f"{r:.1%}" for r in result.table["rejection_rate"]]
    assert labels["textposition"] == "top center"
    np.testing.assert_allclose(
        labels["y"], result.table["rejection_rate"] + 2 * result.table["mc_se"], atol=1e-12
    )
    rates = cells(page, "ign-table", "rejection rate")
    np.testing.assert_allclose(
        [float(r) for r in rates], result.table["rejection_rate"], atol=rounding(rates)
    )
    assert page.locator("#ign-table-export").is_visible()
    page.wait_for_timeout(1000)  # let the figure's transition finish before the picture
    page.screenshot(path=str(DOCS / "explorer-ignoring.png"), full_page=True)


@pytest.mark.parametrize("path", startup.PAGES)
def test_the_start_up_benchmark_sees_each_page_ready(page: Page, base_url: str, path: str) -> None:
    """benchmarks/startup.py's checks that a page shows its numbers and has drawn its first
    figure come true on each page (a check that matches nothing would leave the benchmark
    waiting until its time-out)."""
    page.goto(base_url + path)
    page.wait_for_function(startup.SHOWN[path], polling=10)
    page.wait_for_function(startup.DRAWN[path], polling=10)


def test_the_hinted_plotly_js_draws_the_figure(page: Page, base_url: str) -> None:
    """The plotly.js that the browser gets (with the compile hint) is fetched once and
    is what draws the figure."""
    bodies: list[bytes] = []
    page.on(
        "response", lambda r: bodies.append(r.body()) if r.url.endswith("plotly.min.js") else None
    )
    page.goto(base_url + "/data")
    page.wait_for_function(startup.DRAWN["/data"], polling=10)
    assert len(bodies) == 1 and bodies[0].startswith(b"//# allFunctionsCalledOnLoad\n")
    assert page.evaluate("typeof window.Plotly.react") == "function"


@pytest.mark.parametrize("path", startup.PAGES)
def test_numbers_show_while_plotly_js_is_held_back(page: Page, base_url: str, path: str) -> None:
    """Each page's text and tables (on "ignoring clusters", the summary of the study) do
    not wait for plotly.js: with its download held back they show, and no figure does."""
    page.route("**/plotly.min.js", lambda route: None)  # never answered
    page.goto(base_url + path)
    page.wait_for_function(startup.SHOWN[path], polling=10)
    assert page.locator(".js-plotly-plot").count() == 0


def _upload(page: Page, name: str, mime: str, payload: bytes) -> None:
    page.set_input_files(
        "#data-upload input[type=file]", files=[{"name": name, "mimeType": mime, "buffer": payload}]
    )


def _error_text(page: Page) -> str:
    return wait_for_text(page, "#data-error")


def test_your_data_before_a_choice(page: Page, base_url: str) -> None:
    """Before a data set: a sentence where the figure goes, no axes, no table, no export."""
    page.goto(base_url + "/data")
    figure = page.locator("#data-graph")
    figure.get_by_text("Drop a CSV file or choose a shipped data set").wait_for()
    assert figure.locator(".xtick, .ytick").count() == 0
    assert page.locator("#data-table .ag-cell").count() == 0
    assert not page.locator("#data-table-export").is_visible()
    page.screenshot(path=str(DOCS / "explorer-your-data-empty.png"), full_page=True)


def test_upload_good_and_bad_files(page: Page, base_url: str) -> None:
    page.goto(base_url + "/data")
    rng = np.random.default_rng(2)
    g = np.repeat([f"school {i}" for i in range(9)], rng.integers(2, 12, 9))
    effect = dict(zip(np.unique(g), rng.normal(0, 6, 9), strict=True))
    score = 50 + np.array([effect[s] for s in g]) + rng.normal(0, 8, g.size)
    frame = pd.DataFrame({"school": g, "score": score.round(2)})
    _upload(page, "scores.csv", "text/csv", frame.to_csv(index=False).encode())
    wait_for_clusters(page, "data-graph", 9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = mm.pooling(frame, response="score", group="school").table
    np.testing.assert_allclose(
        estimates(page, "data-graph")["y"],
        expected.sort_values("n", kind="stable")["partial_pooling"],
        atol=1e-12,
    )
    assert sorted(cells(page, "data-table", "school")) == sorted(expected.index)
    assert page.locator("#data-table-export").is_visible()
    page.wait_for_timeout(1000)  # let the figure's transition finish before the picture
    page.screenshot(path=str(DOCS / "explorer-your-data.png"), full_page=True)

    bad: list[tuple[str, str, bytes, str]] = [
        ("figure.png", "image/png", (DOCS / "pooling.png").read_bytes()[:20000], "not a CSV"),
        ("names.csv", "text/csv", b"school,teacher\nA,Smith\nB,Jones\n", "no numeric column"),
        ("one.csv", "text/csv", b"school,score\nA,1\nA,2\nA,3\n", "at least two"),
        (
            "big.csv",
            "text/csv",
            b"g,y\n" + b"a,1.0\n" * (MAX_UPLOAD_BYTES // 6 + 10),
            "up to 5.0 MB",
        ),
        # a column name that would be code in a formula is read as a plain name
        (
            "sneaky.csv",
            "text/csv",
            b"g,__import__('os').system('touch /tmp/mm-pwned')\nA,1\nA,2\nB,3\nB,5\n",
            "",
        ),
    ]
    for name, mime, payload, message in bad:
        page.evaluate("() => { document.querySelector('#data-error').innerText = ''; }")
        _upload(page, name, mime, payload)
        if message:
            assert message in _error_text(page), name
        else:
            wait_for_clusters(page, "data-graph", 2)
    assert not Path("/tmp/mm-pwned").exists()
    # the server still serves: a fresh page loads and a good upload still works
    page.goto(base_url + "/data")
    _upload(page, "scores.csv", "text/csv", frame.to_csv(index=False).encode())
    wait_for_clusters(page, "data-graph", 9)
    # a shipped data set from the list
    page.goto(base_url + "/data?view=all")
    page.locator("#data-example").click()
    page.get_by_role("option", name="sleepstudy").click()
    wait_for_clusters(page, "data-graph", 18)
    assert trace(page, "data-graph", "complete pooling")["visible"] is True


def test_redraw_latency(page: Page, base_url: str) -> None:
    """Time from a key press on the J slider to the redrawn figure, in the browser.

    Asserts only that each move redraws; with MIXEDMODELS_BENCH_EXPLORER=1 it times more
    moves and writes benchmarks/explorer_redraw.md.
    """
    moves = 15 if BENCH else 2
    rows = []
    for start in (16, 50):
        page.goto(f"{base_url}/?J={start}")
        wait_for_clusters(page, "shrink-graph", start)
        page.evaluate(
            "() => document.addEventListener('keydown', () => "
            "{ window.__t0 = performance.now(); }, true)"
        )
        thumb = _slider(page, "Number of clusters J")
        thumb.focus()
        timings = []
        count = start
        for i in range(moves):
            key, count = ("ArrowLeft", count - 1) if i % 2 == 0 else ("ArrowRight", count + 1)
            page.keyboard.press(key)
            page.wait_for_function(
                """n => { const gd = document.querySelector('#shrink-graph .js-plotly-plot');
                    if (gd && gd._fullData[5].x.length === n) {
                        window.__t1 = performance.now(); return true; }
                    return false; }""",
                arg=count,
                polling="raf",
            )
            timings.append(page.evaluate("() => window.__t1 - window.__t0"))
        rows.append((start, len(timings), statistics.median(timings), max(timings)))
    if BENCH:
        lines = [
            "# Explorer redraw time",
            "",
            "From a key press on the J slider to the redrawn figure, measured in headless",
            "Chromium by `MIXEDMODELS_BENCH_EXPLORER=1 python -m pytest",
            "tests/test_explorer_browser.py -k redraw -s` (server and browser on one machine,",
            f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}). Each move refits the model",
            "(mm.pooling) and redraws the figures and tables of the page.",
            "",
            "| clusters J | moves | median ms | max ms |",
            "|---:|---:|---:|---:|",
            *[f"| {j} | {n} | {med:.0f} | {mx:.0f} |" for j, n, med, mx in rows],
            "",
        ]
        (ROOT / "benchmarks" / "explorer_redraw.md").write_text("\n".join(lines))
        print("\n".join(lines))
    assert all(n == moves for _, n, _, _ in rows)
