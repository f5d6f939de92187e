"""One BLAS thread for a block of small linear algebra, cheaply.

``threadpoolctl.threadpool_limits`` looks up the loaded BLAS libraries each time it is
entered (about 0.3 ms); a fit of a small model is a few milliseconds. The controller is
made once per process and only its limit is entered per fit.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache
from typing import Any

__all__ = ["idle_cores", "lapack_threads", "one_blas_thread", "threads_of_idle_cores"]


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


def _own_runnable() -> int:
    """This process's threads that are runnable now (this one among them; a BLAS thread
    that spins after a call counts too, and the next call uses it)."""
    count = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    for task in tasks:
        try:
            with open(f"/proc/self/task/{task}/stat", encoding="ascii") as stat:
                # the state follows the parenthesized command name
                state = stat.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        count += state == "R"
    return max(count, 1)


def idle_cores() -> int:
    """The cores that no other program wants at this moment: the machine's cores less
    this thread and the runnable threads of other processes (``/proc/loadavg``'s runnable
    count less this process's own); 0 where that cannot be read.

    This process's runnable threads are counted before and after the load is read, and
    the larger count taken: a BLAS thread still spinning after the last call is in the
    load, and may have gone to sleep by the time the threads are counted; counted after
    the load alone, it would pass for another program's thread. (Two of the five dense
    factorizations of a 2,000-item tail were once seen on one thread on an idle machine,
    59 against 37 ms; later runs on an idle machine, before and after this change, used
    two threads throughout, so that cause is likely, not shown.)"""
    before = _own_runnable()
    try:
        with open("/proc/loadavg", encoding="ascii") as status:
            runnable = int(status.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return 0
    others = max(0, runnable - max(before, _own_runnable()))
    return max(0, (os.cpu_count() or 1) - 1 - others)


def threads_of_idle_cores() -> AbstractContextManager[Any]:
    """A context in which the BLAS libraries run on this thread and every idle core.

    For one large LAPACK call (a dense tail of a few thousand columns): a second thread
    on an idle core makes it about 1.7x faster, while a thread pool that competes with
    another program for a core makes it 10-20x slower. Asked for at each call, so that a
    machine that becomes busy during a fit is noticed at its next evaluation.
    """
    limiter: AbstractContextManager[Any] = _controller().limit(
        limits=1 + idle_cores(), user_api="blas"
    )
    return limiter


#: Dense factorizations of at least this order use the idle cores (below it a thread pool
#: costs more than it shares out).
THREADED_ORDER = 600
#: Dense factorizations and inverses of at least this order run on one thread. The
#: OpenBLAS that scipy ships (0.3.31, and numpy's 0.3.30) ends the process with a
#: segmentation fault in its multi-threaded ``dsyrk`` when the output's order reaches
#: about 15,500 and the inner dimension is large, as LAPACK's Cholesky routines call it
#: on a matrix of twice that order. Measured here on two threads: ``dsyrk`` of order
#: 15,000 (inner 15,000) completed and of 15,500, 16,000 and 16,861 (inner 1,000 to
#: 16,861) crashed; ``dpftrf`` crashed at 31,000 to 33,722 and ``dpotrf`` at 33,722,
#: while ``dpotrf`` and ``dpotri`` of order 26,184 ran in whole fits. On one thread
#: ``dsyrk`` of 16,861 and ``dpftrf`` of 33,722 completed (188 s). The same kind of
#: crash is reported in OpenBLAS's issues 1413 and 2821 (threaded ``dsyrk`` inside
#: ``dpotrf``).
ONE_THREAD_ORDER = 30_000


def lapack_threads(order: int) -> AbstractContextManager[Any]:
    """The threads for one dense factorization or inverse of this order."""
    if order >= ONE_THREAD_ORDER:
        return one_blas_thread()
    return threads_of_idle_cores() if order >= THREADED_ORDER else nullcontext()
