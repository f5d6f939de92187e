"""The Dash application: the page shell, routing by URL path, and serving it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from dash import Dash, Input, Output, State, dcc, html

from mixedmodels.app.pages import hospitals, ignoring, shrinkage, yourdata
from mixedmodels.app.state import state_from_query
from mixedmodels.app.upload import MAX_UPLOAD_BYTES
from mixedmodels.app.widgets import aria

__all__ = ["LOCALHOST", "NAV", "create_app", "serve"]

LOCALHOST = "127.0.0.1"
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


def create_app() -> Dash:
    """The explorer as a Dash app (not yet serving)."""
    app = Dash(
        __name__,
        assets_folder=str(ASSETS),
        title="mixedmodels explorer",
        suppress_callback_exceptions=True,
        update_title="",
    )
    # The server refuses request bodies far beyond the largest upload (base64 adds a third).
    app.server.config["MAX_CONTENT_LENGTH"] = 2 * MAX_UPLOAD_BYTES
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
    return app


def serve(host: str = LOCALHOST, port: int = 8050, debug: bool = False) -> None:
    """Serve the explorer until interrupted (on localhost unless ``host`` says otherwise)."""
    app = create_app()
    address = f"http://{host}:{port}/"
    print(f"mixedmodels explorer: {address}  (Ctrl+C to stop)", flush=True)
    if host not in (LOCALHOST, "localhost", "::1"):
        print(
            f"note: bound to {host}, so other computers on the network can open it",
            file=sys.stderr,
            flush=True,
        )
    app.run(host=host, port=port, debug=debug)
