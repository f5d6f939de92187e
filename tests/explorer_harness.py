"""Helpers for the explorer's browser tests: a live server and Debian's Chromium."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server

#: Chromium's flags on a machine with a closed network, running as root, with no GPU.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Debian's chromium (``.ci/run`` installs it); MIXEDMODELS_CHROMIUM overrides."""
    path = os.environ.get("MIXEDMODELS_CHROMIUM") or shutil.which("chromium")
    if not path:
        raise RuntimeError(
            "the browser tests need Chromium: apt-get install chromium "
            "(or set MIXEDMODELS_CHROMIUM to a Chromium binary)"
        )
    return path


@contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Serve a Dash app on a free localhost port in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def graph_data(page: Any, ident: str, timeout: float = 30_000) -> list[dict[str, Any]]:
    """The traces that Plotly drew in the graph ``ident`` (its full data, with the base64
    arrays of plotly.py decoded), once it has drawn: a page's numbers can show before
    plotly.js has loaded, and the figure is drawn after it (waits up to ``timeout`` ms)."""
    page.wait_for_function(
        """id => {
            const gd = document.querySelector('#' + id + ' .js-plotly-plot');
            return !!(gd && gd._fullData && gd._fullData.length);
        }""",
        arg=ident,
        timeout=timeout,
        polling=50,
    )
    return page.evaluate(
        """id => {
            const gd = document.querySelector('#' + id + ' .js-plotly-plot');
            if (!gd || !gd._fullData) return [];
            return gd._fullData.map(t => ({
                name: t.name, x: Array.from(t.x || []), y: Array.from(t.y || []),
                visible: t.visible === undefined ? true : t.visible,
                marker: t.marker || {}, line: t.line || {},
                text: Array.isArray(t.text) ? Array.from(t.text) : t.text,
                textposition: t.textposition,
            }));
        }""",
        ident,
    )


def trace(page: Any, ident: str, name_start: str) -> dict[str, Any]:
    """The first trace of graph ``ident`` whose name starts with ``name_start``."""
    for t in graph_data(page, ident):
        if str(t["name"]).startswith(name_start):
            return t
    raise AssertionError(f"no trace named {name_start!r} in #{ident}")


#: Index of the trace holding the estimates of the current view (see app/figures.py).
ESTIMATES = 5


def estimates(page: Any, ident: str) -> dict[str, Any]:
    """The trace of the pooling figure ``ident`` drawing the current view's estimates."""
    return graph_data(page, ident)[ESTIMATES]


def wait_for_clusters(page: Any, ident: str, count: int, timeout: float = 30_000) -> None:
    """Wait until the estimates trace of ``ident`` draws ``count`` clusters."""
    page.wait_for_function(
        """([id, n]) => {
            const gd = document.querySelector('#' + id + ' .js-plotly-plot');
            return gd && gd._fullData && gd._fullData.length >= 6 && gd._fullData[5].x.length === n;
        }""",
        arg=[ident, count],
        timeout=timeout,
    )


def wait_for_text(page: Any, selector: str, text: str = "", timeout: float = 60_000) -> str:
    """Wait until the element ``selector`` exists and its text contains ``text`` (any text
    when empty); returns the text."""
    page.wait_for_function(
        """([sel, text]) => { const e = document.querySelector(sel);
            return e !== null && e.innerText.length > 0 && e.innerText.includes(text); }""",
        arg=[selector, text],
        timeout=timeout,
    )
    return str(page.locator(selector).inner_text())


def callback_key(app: Any, output: str) -> tuple[str, list[dict[str, str]]]:
    """The key of the callback of ``app`` that has ``output`` (``"shrink-graph.figure"``)
    among its outputs, and its outputs as a callback request lists them."""
    key = next(k for k in app.callback_map if output in k)
    outputs = []
    for part in key.strip(".").split("..."):
        ident, prop = part.split(".", 1)
        outputs.append({"id": ident, "property": prop.split("@")[0]})
    return key, outputs
