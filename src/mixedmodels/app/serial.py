"""Interactive callbacks one at a time.

The explorer's redraws are Python-bound (pandas, the fit, Plotly's JSON), so threads that
run them side by side only contend for the interpreter lock: every small C call that
releases it (numpy, Arrow) costs the thread a wait to get it back. Measured with 8 loopback
clients redrawing as fast as they could: 16 redraws/s and a p95 of 0.8 s side by side,
34/s and 0.33 s one at a time (a single client gets 35/s). The simulations that take
seconds (the Type-I study, the replicate study) are left to run beside the redraws, so that
one visitor's study does not hold up everyone's sliders.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["SerialCallbacks"]


class SerialCallbacks:
    """WSGI middleware: callback requests to ``path`` run under one lock, except those
    whose body names one of ``long_outputs`` (an output id and property, as Dash writes
    them: ``b"ign-rates.figure"``)."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        path: str,
        long_outputs: Iterable[bytes],
        max_bytes: int,
    ) -> None:
        self.app = app
        self.path = path
        self.long_outputs = tuple(long_outputs)
        self.max_bytes = max_bytes
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") != self.path or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        try:
            length = int(environ.get("CONTENT_LENGTH") or -1)
        except ValueError:
            length = -1
        if not 0 <= length <= self.max_bytes:
            return self.app(environ, start_response)  # (Flask answers it: 400 or 413)
        body = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        if any(name in body for name in self.long_outputs):
            return self.app(environ, start_response)
        with self.lock:
            result = self.app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
