"""Replicates on the workers of a Dask cluster: the shared object is scattered once to
every worker, the replicates go out in batches, and results come back in task order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mixedmodels._replicates import batches, run_batch

__all__ = ["run_on_client"]


def run_on_client(
    work: Callable[[Any, Any], Any],
    shared: Any,
    tasks: Sequence[Any],
    client: Any,
    bar: Any,
    batch_size: int | None,
) -> list[Any]:
    """See :func:`mixedmodels._replicates.run_replicates` (its ``client`` path)."""
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    size = batch_size or max(1, min(25, len(tasks) // (4 * workers) or 1))
    shared_future = client.scatter(shared, broadcast=True) if shared is not None else None
    futures = client.map(
        run_batch,
        [work] * len(range(0, len(tasks), size)),
        [shared_future] * len(range(0, len(tasks), size)),
        list(batches(tasks, size)),
        pure=False,
    )
    out: list[Any] = []
    for future in futures:
        part = future.result()
        out.extend(part)
        if bar is not None:
            bar.update(len(part))
    return out
