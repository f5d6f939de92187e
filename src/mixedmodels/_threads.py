"""One BLAS thread for a block of small linear algebra, cheaply.

``threadpoolctl.threadpool_limits`` looks up the loaded BLAS libraries each time it is
entered (about 0.3 ms); a fit of a small model is a few milliseconds. The controller is
made once per process and only its limit is entered per fit.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import lru_cache
from typing import Any

__all__ = ["one_blas_thread"]


@lru_cache(maxsize=1)
def _controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_blas_thread() -> AbstractContextManager[Any]:
    """A context in which the BLAS libraries run on one thread.

    Small products and triangular solves gain nothing from a thread pool, and with the
    other core busy a multi-threaded OpenBLAS made single calls take milliseconds.
    """
    limiter: AbstractContextManager[Any] = _controller().limit(limits=1, user_api="blas")
    return limiter
