"""Run Dask work: tree reductions of per-partition results, with a progress bar."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

__all__ = ["SPLIT_EVERY", "active_client", "compute", "progress_default", "tree_reduce"]

#: Partition results merged per reduction task (Dask's own default for reductions).
SPLIT_EVERY = 8


def active_client() -> Any:
    """The current ``dask.distributed`` client, or None (then Dask's local scheduler):
    None also when ``dask.config`` names another scheduler (e.g. ``scheduler="sync"``)."""
    import dask

    if dask.config.get("scheduler", None) not in (None, "dask.distributed", "distributed"):
        return None
    try:
        from distributed import default_client
    except ImportError:  # pragma: no cover - distributed comes with the dask extra
        return None
    try:
        return default_client()
    except ValueError:
        return None


def progress_default() -> bool:
    """Show progress when someone is watching: a terminal on stderr."""
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def tree_reduce(items: list[Any], combine: Callable[..., Any], *args: Any) -> Any:
    """Reduce delayed values in order, ``SPLIT_EVERY`` at a time: ``combine(list, *args)``."""
    from dask import delayed

    while len(items) > 1:
        items = [
            delayed(combine, pure=True)(items[i : i + SPLIT_EVERY], *args)
            for i in range(0, len(items), SPLIT_EVERY)
        ]
    return items[0]


def compute(value: Any, progress: bool) -> Any:
    """Compute one Dask value on the active client (else the local scheduler), with a
    progress bar (``distributed.progress`` or ``dask.diagnostics.ProgressBar``)."""
    import dask

    client = active_client()
    if client is not None:
        future = client.compute(value)
        if progress:
            from distributed import progress as show_progress

            show_progress(future)
        return future.result()
    if progress:
        from dask.diagnostics import ProgressBar

        with ProgressBar(out=sys.stderr):
            return dask.compute(value)[0]
    return dask.compute(value)[0]
