"""The Dash application: the page shell, routing by URL path, and serving it."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dash import Dash, Input, Output, State, dcc, html
from dash.exceptions import CallbackException
from flask import Response, request

from mixedmodels.app import library, plotlyjs
from mixedmodels.app.pages import hospitals, ignoring, shrinkage, yourdata
from mixedmodels.app.serial import SerialCallbacks
from mixedmodels.app.state import state_from_query
from mixedmodels.app.upload import MAX_UPLOAD_BYTES
from mixedmodels.app.widgets import aria

__all__ = ["LOCAL_NAMES", "LOCALHOST", "NAV", "create_app", "serve"]

LOCALHOST = "127.0.0.1"
#: The names a browser on this machine reaches a loopback server by.
LOCAL_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
#: Addresses that bind every interface: the server cannot know the names it is reached by.
ANY_INTERFACE = frozenset({"0.0.0.0", "::", ""})
#: Dash's callback endpoint: what a malformed request body reaches.
CALLBACK_PATH = "/_dash-update-component"
#: The callbacks that run simulations for seconds, beside the one-at-a-time redraws.
LONG_OUTPUTS = (b"ign-rates.figure", b"shrink-study.data")
ASSETS = Path(__file__).with_name("assets")
NAV = (
    ("/", "Shrinkage"),
    ("/hospitals", "Hospitals"),
    ("/ignoring", "Ignoring clusters"),
    ("/data", "Your data"),
)


def _page(path: str, query: str) -> Any:
    """The page at ``path`` with its controls set from the query (any other path is the
    shrinkage page)."""
    if path == "/hospitals":
        return hospitals.layout(query)
    if path == "/ignoring":
        return ignoring.layout(state_from_query(path, query))
    if path == "/data":
        return yourdata.layout(state_from_query(path, query))
    return shrinkage.layout(state_from_query("/", query))


def _hostname(authority: str) -> str:
    """The host of a ``Host`` header or of an origin's authority, without the port."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority[1 : authority.find("]")] if "]" in authority else authority
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


def _guard(app: Dash, hosts: frozenset[str] | None) -> None:
    """Refuse requests whose ``Host`` or ``Origin`` is not one of ``hosts`` (a web page
    elsewhere that rebinds its name to this machine, DNS rebinding, or posts to it), and
    answer malformed callback requests with 400 and a message instead of a 500."""
    server = app.server
    log = logging.getLogger("mixedmodels.explorer")

    def same_host() -> Response | None:
        if hosts is None:
            return None
        host = _hostname(request.host or "")
        origin = request.headers.get("Origin")
        origin_host = urlsplit(origin).hostname if origin and origin != "null" else None
        if host not in hosts or (origin is not None and origin_host not in hosts):
            shown = origin if origin is not None and origin_host not in hosts else request.host
            return Response(
                f"refused: the explorer answers requests for {', '.join(sorted(hosts))}, "
                f"not {shown}",
                status=403,
                mimetype="text/plain",
            )
        return None

    server.before_request(same_host)

    def malformed(exc: Exception) -> Response:
        if request.path != CALLBACK_PATH:
            raise exc
        log.warning("malformed callback request: %s: %s", type(exc).__name__, exc)
        return Response(
            f"malformed callback request ({type(exc).__name__}: {exc})",
            status=400,
            mimetype="text/plain",
        )

    # Dash's own complaints about a request (inputs that do not match the callback) and
    # what a callback meets in values of the wrong shape
    for kind in (CallbackException, KeyError, TypeError, ValueError, AttributeError, IndexError):
        server.register_error_handler(kind, malformed)


def create_app(hosts: Iterable[str] | None = LOCAL_NAMES) -> Dash:
    """The explorer as a Dash app (not yet serving), answering requests addressed to
    ``hosts`` (default: this machine's loopback names; None: any). The library's modules
    that the callbacks use start loading in the background."""
    app = Dash(
        __name__,
        assets_folder=str(ASSETS),
        title="mixedmodels explorer",
        suppress_callback_exceptions=True,
        update_title="",
    )
    # The server refuses request bodies far beyond the largest upload (base64 adds a third).
    app.server.config["MAX_CONTENT_LENGTH"] = 2 * MAX_UPLOAD_BYTES
    _guard(app, None if hosts is None else frozenset(h.lower() for h in hosts))
    plotlyjs.serve(app)  # with V8's compile hint: less of the page's thread for it
    library.load_in_background()  # while the browser fetches the page and its scripts
    app.layout = html.Div(
        [
            dcc.Location(id="url", refresh="callback-nav"),
            html.A("Skip to the content", href="#page", className="skip-link"),
            html.Header(
                [
                    html.H1("Partial pooling, explored"),
                    html.Nav(
                        [
                            dcc.Link(label, href=href, className="nav-link", id=f"nav-{i}")
                            for i, (href, label) in enumerate(NAV)
                        ],
                        **aria(aria_label="Pages"),
                    ),
                ],
                className="header",
            ),
            html.Main(id="page", tabIndex="-1"),
            html.Footer(
                "Every number on these pages is computed by the mixedmodels library "
                "(simulate_clusters, pooling, glmm, type1_error); the page only draws them.",
                className="footer",
            ),
        ],
        className="app",
    )

    @app.callback(
        Output("page", "children"),
        Input("url", "pathname"),
        State("url", "search"),
    )
    def route(path: str | None, query: str | None) -> Any:
        return _page(path or "/", query or "")

    for page in (shrinkage, hospitals, ignoring, yourdata):
        page.register(app)
    app.server.wsgi_app = SerialCallbacks(
        app.server.wsgi_app, CALLBACK_PATH, LONG_OUTPUTS, 2 * MAX_UPLOAD_BYTES
    )
    return app


def serve(host: str = LOCALHOST, port: int = 8050, debug: bool = False) -> None:
    """Serve the explorer until interrupted (on localhost unless ``host`` says otherwise).
    It answers requests addressed to the loopback names and to ``host``; bound to every
    interface (``0.0.0.0``), to any name.

    It prints one line, the address, and otherwise only warnings and errors: no
    development-server banner and no line per request. ``debug`` runs Dash's debug
    server instead (reloader, debug pages and its log).
    """
    hosts = None if host in ANY_INTERFACE else LOCAL_NAMES | {host.lower()}
    app = create_app(hosts)
    if debug:
        app.run(host=host, port=port, debug=True)
        return
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(host, port, app.server, threaded=True)
    shown = f"[{host}]" if ":" in host else host
    print(
        f"mixedmodels explorer: http://{shown}:{server.server_port}/  (Ctrl+C to stop)", flush=True
    )
    if host not in (LOCALHOST, "localhost", "::1"):
        print(
            f"note: bound to {host}, so other computers on the network can open it",
            file=sys.stderr,
            flush=True,
        )
    try:
        server.serve_forever()
    finally:
        server.server_close()
