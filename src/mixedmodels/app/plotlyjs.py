"""plotly.js served with V8's compile hint, so that Chromium compiles it off the page's thread.

A page's first figure waits for the browser to evaluate plotly.js (4.8 MB), which
dcc.Graph requests once the page's first figure is mounted. Chromium compiles most of
its functions on the page's thread, one at a time as each is first called while the file
runs (traced in headless Chromium: about 1.3 s of running on the page's thread, most of
it that compiling). Served with ``//# allFunctionsCalledOnLoad`` on its first line, the
file is compiled while it streams in, on a background thread, and runs in about 0.6 to
0.8 s; the numbers that arrive meanwhile (a callback's answer) wait that much less. The
file is the one the plotly package installs, unchanged below that comment; browsers
without compile hints read a comment.

Asking for the file from the page's head (a preload) was measured too and left out: on
two shared cores the early download and compile delayed the page's own numbers by a
second or more and did not bring the figure sooner (benchmarks/startup.md).
"""

from __future__ import annotations

import functools
import hashlib
import pkgutil
from typing import Any

from flask import Response, request

__all__ = ["COMPILE_HINT", "PATH", "serve"]

#: Where dcc.Graph loads plotly.js from when Dash serves its own files (dash-renderer's
#: ``_dashPlotlyJSURL``), after the app's path prefix.
PATH = "_dash-component-suites/plotly/package_data/plotly.min.js"
#: V8's explicit compile hint for a whole file (Chromium 136 and later).
COMPILE_HINT = b"//# allFunctionsCalledOnLoad\n"


@functools.cache
def _script() -> tuple[bytes, str]:
    """plotly.js as served (the hint, then the plotly package's file) and its ETag."""
    source = pkgutil.get_data("plotly", "package_data/plotly.min.js")
    if source is None:  # pragma: no cover - a plotly without its bundled plotly.js
        raise FileNotFoundError("the plotly package has no package_data/plotly.min.js")
    body = COMPILE_HINT + source
    return body, hashlib.sha256(body).hexdigest()[:32]


def serve(app: Any) -> None:
    """Answer the Dash app's requests for plotly.js with the hinted file (conditional
    requests get 304, as Dash's own answer does)."""
    path = app.config.routes_pathname_prefix + PATH

    def plotly_js() -> Response | None:
        if request.path != path or request.method not in ("GET", "HEAD"):
            return None
        body, tag = _script()
        response = Response(body, mimetype="text/javascript")
        response.set_etag(tag)
        response.make_conditional(request)  # 304 when the browser holds this version
        return response

    app.server.before_request(plotly_js)
