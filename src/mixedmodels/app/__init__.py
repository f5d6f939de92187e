"""The shrinkage explorer: a Dash app in the browser (``mixedmodels explore``) or inline
in a Jupyter notebook (:func:`explore`). It draws what the library computes and holds no
statistics of its own. Dash is imported only when the explorer starts.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Explorer", "create_app", "explore"]


def create_app() -> Any:
    """The explorer's Dash app (needs the ``app`` extra: ``pip install 'mixedmodels[app]'``)."""
    try:
        from mixedmodels.app.server import create_app as build
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the explorer needs Dash: pip install 'mixedmodels[app]'") from exc
    return build()


@dataclass(frozen=True)
class Explorer:
    """A running explorer: its address, the Dash app, and how to stop it."""

    url: str
    app: Any
    _server: Any = field(repr=False, default=None)
    _thread: threading.Thread | None = field(repr=False, default=None)

    def stop(self) -> None:
        """Stop serving (servers started by Dash's Jupyter support stop with the kernel)."""
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    ipython = shell.get_ipython()
    return ipython is not None and hasattr(ipython, "kernel")


def explore(
    mode: str = "inline", port: int = 8050, host: str = "127.0.0.1", height: int = 900
) -> Explorer:
    """Show the shrinkage explorer.

    Parameters
    ----------
    mode : {"inline", "tab", "external", "jupyterlab"}
        In a notebook, "inline" shows the app in the output cell, "tab" opens a browser
        tab and "external" prints its address. Outside a notebook the app is served in a
        background thread and its address printed, whatever the mode.
    port, host :
        Where to serve it (this computer only, 127.0.0.1, by default; port 0 picks a
        free port outside a notebook).
    height : int
        Height of the inline frame in pixels.

    Returns
    -------
    Explorer
        Its ``url``, the Dash ``app`` and ``stop()``.
    """
    if not (isinstance(port, int) and 0 <= port < 65536):
        from mixedmodels.errors import ModelSpecError

        raise ModelSpecError(f"port must be a whole number from 0 to 65535, not {port!r}")
    app = create_app()
    if _in_notebook():
        app.run(jupyter_mode=mode, jupyter_height=height, port=port, host=host)
        return Explorer(f"http://{host}:{port}/", app)
    import logging

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    server = make_server(host, port, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="explorer")
    thread.start()
    url = f"http://{host}:{server.server_port}/"
    print(f"mixedmodels explorer: {url}", flush=True)
    return Explorer(url, app, server, thread)
