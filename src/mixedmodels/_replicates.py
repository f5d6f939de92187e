"""Run independent replicates (bootstrap refits, simulated data sets) serially, in a pool of
forked processes (``n_jobs``) or on the workers of a Dask cluster (``client``).

Replicate ``i`` gets its own task and its results come back in task order, so a seed
gives the same table whichever way the replicates run.

Calls are reentrant: each call's work and shared object are registered under a key of
their own before its pool forks, and its workers look them up by that key, so calls from
several threads at once (the explorer serves requests on threads) never run another
call's work.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from mixedmodels.errors import ModelSpecError

__all__ = ["batches", "progress_bar", "run_batch", "run_replicates"]

# what forked workers run, by call: registered before a call's pool forks (its workers
# inherit the registry), read by _run_forked with the call's key
_CALLS: dict[int, tuple[Callable[[Any, Any], Any], Any]] = {}
_CALLS_LOCK = threading.Lock()
_KEYS = itertools.count()


def progress_bar(total: int, show: bool, desc: str, unit: str) -> Any:
    """A tqdm bar over ``total`` replicates (None when ``show`` is false), for
    :func:`run_replicates` to update."""
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit)


def batches(tasks: Sequence[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive batches of ``size`` tasks."""
    for start in range(0, len(tasks), size):
        yield list(tasks[start : start + size])


def run_batch(work: Callable[[Any, Any], Any], shared: Any, batch: list[Any]) -> list[Any]:
    """``work(shared, task)`` for each task of a batch, with one BLAS thread (the
    replicates run side by side on the cores)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return [work(shared, task) for task in batch]


def _run_forked(key: int, batch: list[Any]) -> list[Any]:
    work, shared = _CALLS[key]
    return run_batch(work, shared, batch)


def run_replicates(
    work: Callable[[Any, Any], Any],
    shared: Any,
    tasks: Sequence[Any],
    *,
    n_jobs: int = 1,
    client: Any = None,
    bar: Any = None,
    batch_size: int | None = None,
) -> list[Any]:
    """``[work(shared, task) for task in tasks]``, spread over processes or a cluster.

    Parameters
    ----------
    work : callable
        A module-level function (it is sent to other processes by reference).
    shared : object
        What every replicate reads (a fit, the simulation settings); sent once to each
        process.
    tasks : sequence
        One item per replicate (typically its ``numpy.random.SeedSequence``).
    n_jobs : int
        Forked worker processes (-1: one per core); ignored when ``client`` is given.
    client : dask.distributed.Client, optional
        Run the replicates on its workers.
    bar : tqdm progress bar, optional
        Updated as replicates finish.
    batch_size : int, optional
        Replicates per task sent to a worker.
    """
    if client is not None:
        if not (hasattr(client, "scatter") and hasattr(client, "map")):
            raise ModelSpecError(
                f"client= must be a dask.distributed.Client, not {type(client).__name__}"
            )
        return run_on_client(work, shared, tasks, client, bar, batch_size)
    jobs = (os.cpu_count() or 1) if n_jobs == -1 else max(1, int(n_jobs))
    out: list[Any] = []
    if jobs == 1:
        for task in tasks:
            out.append(work(shared, task))
            if bar is not None:
                bar.update(1)
        return out
    size = batch_size or max(1, min(25, len(tasks) // (4 * jobs) or 1))
    with _CALLS_LOCK:
        key = next(_KEYS)
        _CALLS[key] = (work, shared)
    try:
        context = multiprocessing.get_context("fork")
        parts = list(batches(tasks, size))
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            # the workers fork at the first submission, after the registration above
            for part in pool.map(_run_forked, [key] * len(parts), parts):
                out.extend(part)
                if bar is not None:
                    bar.update(len(part))
    finally:
        with _CALLS_LOCK:
            del _CALLS[key]
    return out


def run_on_client(
    work: Callable[[Any, Any], Any],
    shared: Any,
    tasks: Sequence[Any],
    client: Any,
    bar: Any,
    batch_size: int | None,
) -> list[Any]:
    """The ``client`` path of :func:`run_replicates`: the shared object is scattered once
    to every worker of the Dask cluster, the replicates go out in batches, and results
    come back in task order."""
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
