"""The shrinkage explorer: a Dash app in the browser (``mixedmodels explore``) or inline
in a Jupyter notebook (:func:`explore`). It draws what the library computes and holds no
statistics of its own. Dash is imported only when the explorer starts.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "explore"]


def create_app() -> Any:
    """The explorer's Dash app (needs the ``app`` extra: ``pip install 'mixedmodels[app]'``)."""
    try:
        from mixedmodels.app.server import create_app as build
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the explorer needs Dash: pip install 'mixedmodels[app]'") from exc
    return build()


def explore(
    mode: str = "inline", port: int = 8050, host: str = "127.0.0.1", height: int = 900
) -> Any:
    """Show the shrinkage explorer.

    Parameters
    ----------
    mode : {"inline", "tab", "external", "jupyterlab"}
        In a notebook, "inline" shows the app in the output cell, "tab" opens a browser
        tab and "external" prints its address; outside a notebook the app is served in a
        background thread and its address printed.
    port, host : where to serve it (localhost by default).
    height : int
        Height of the inline frame in pixels.

    Returns
    -------
    dash.Dash
        The running app.
    """
    app = create_app()
    app.run(jupyter_mode=mode, jupyter_height=height, port=port, host=host)
    return app
