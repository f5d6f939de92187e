"""Linear mixed models on Dask: the 1M-row benchmark model and a 50M-row data set, read
from Parquet row groups by a LocalCluster whose workers' memory is capped.

    python benchmarks/dask_fit.py                  # both data sets, writes dask_results.md
    python benchmarks/dask_fit.py --skip-large     # the 1M-row model only

The data are written once to ``--data`` (default ``/tmp/mixedmodels-dask-bench``): the kit's
``sim_nested_slopes`` (``make_sim.py``, the same rows as ``benchmarks/run.py``) as Parquet
row groups, and a larger set of the same design generated file by file (never all in
memory). Every fit runs in a fresh process, which holds the Dask client and scheduler;
a thread samples the resident memory of that process and of each worker every 50 ms.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

FORMULA = "y ~ x + (1 + x | g)"
RESULT_TAG = "DASK-BENCH "
MB = 1e6
HERE = Path(__file__).resolve().parent


# --------------------------------------------------------------------------- data


def _kit_generator(kit: Path) -> Any:
    spec = importlib.util.spec_from_file_location("make_sim", kit / "make_sim.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_benchmark_model(kit: Path, out: Path, row_group: int) -> None:
    """The kit's 1M-row sim_nested_slopes as one Parquet file of ``row_group``-row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    cols = _kit_generator(kit).nested_slopes()
    table = pa.table({"y": cols["y"], "x": cols["x"], "g": cols["g"].astype(object)})
    pq.write_table(table, out / "part-0000.parquet", row_group_size=row_group)


def write_large(out: Path, rows: int, groups: int, rows_per_file: int, row_group: int) -> None:
    """The benchmark design at scale: ``rows`` rows over ``groups`` groups, written one
    file of ``rows_per_file`` rows at a time, each from its own spawned generator."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    n_files = -(-rows // rows_per_file)
    seqs = np.random.SeedSequence(50).spawn(n_files + 1)
    rng = np.random.default_rng(seqs[0])
    chol = np.linalg.cholesky([[1.0, 0.3], [0.3, 0.5]])
    u = rng.normal(size=(groups, 2)) @ chol.T
    labels = pa.array(np.char.add("g", np.arange(groups).astype(str)))
    for i, seq in enumerate(seqs[1:]):
        n = min(rows_per_file, rows - i * rows_per_file)
        r = np.random.default_rng(seq)
        g = r.integers(0, groups, n)
        x = r.normal(size=n)
        y = 2.0 + 0.5 * x + u[g, 0] + u[g, 1] * x + r.normal(scale=1.5, size=n)
        table = pa.table({"y": y, "x": x, "g": labels.take(pa.array(g))})
        pq.write_table(table, out / f"part-{i:04d}.parquet", row_group_size=row_group)


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.glob("*.parquet"))


# --------------------------------------------------------------------------- measuring


class PeakSampler:
    """Peak resident memory of some processes, sampled every ``interval`` seconds."""

    def __init__(self, pids: dict[str, int], interval: float = 0.05) -> None:
        import psutil

        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.peak = {name: p.memory_info().rss for name, p in self.procs.items()}
        self.start = dict(self.peak)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, proc in self.procs.items():
                try:
                    self.peak[name] = max(self.peak[name], proc.memory_info().rss)
                except Exception:  # a worker restarted: keep what was seen
                    pass
            time.sleep(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def fit_on_cluster(path: Path, worker_memory: str, workers: int) -> dict[str, Any]:
    """One fit from Parquet on a fresh LocalCluster; runs inside its own process."""
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    import mixedmodels as mm

    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        memory_limit=worker_memory,
        dashboard_address=None,
    )
    client = Client(cluster)
    client.run(lambda: __import__("mixedmodels.daskfit.fit"))  # imports outside the timing
    pids = {"client": os.getpid()}
    for i, pid in enumerate(client.run(os.getpid).values()):
        pids[f"worker{i}"] = pid
    limit = next(iter(cluster.scheduler_info["workers"].values()))["memory_limit"]
    ddf = dd.read_parquet(str(path), split_row_groups=True)
    with PeakSampler(pids) as sampler:
        t0 = time.perf_counter()
        fit = mm.lmm(FORMULA, ddf, progress=False)
        seconds = time.perf_counter() - t0
    fitted_mean = float(fit.fitted.mean().compute())
    client.close()
    cluster.close()
    return {
        "rows": fit.nobs,
        "partitions": ddf.npartitions,
        "levels": fit.ngroups["g"],
        "seconds": seconds,
        "optimizer_seconds": fit.optinfo.seconds,
        "evaluations": fit.optinfo.n_evaluations,
        "objective": fit.objective,
        "theta": fit.theta.tolist(),
        "beta": fit.beta.tolist(),
        "sigma": fit.sigma,
        "fitted_mean": fitted_mean,
        "worker_memory_limit": limit,
        "start_rss": sampler.start,
        "peak_rss": sampler.peak,
        "client_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def fit_in_memory(path: Path) -> dict[str, Any]:
    """The same model from the same Parquet with pandas, for comparison."""
    import pandas as pd

    import mixedmodels as mm

    t0 = time.perf_counter()
    data = pd.read_parquet(path)
    read = time.perf_counter() - t0
    t1 = time.perf_counter()
    fit = mm.lmm(FORMULA, data)
    seconds = time.perf_counter() - t1
    return {
        "rows": fit.nobs,
        "data_bytes": int(data.memory_usage(deep=True).sum()),
        "data_bytes_object_strings": int(data.astype({"g": object}).memory_usage(deep=True).sum()),
        "read_seconds": read,
        "seconds": seconds,
        "objective": fit.objective,
        "theta": fit.theta.tolist(),
        "beta": fit.beta.tolist(),
        "sigma": fit.sigma,
        "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def in_fresh_process(*args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            result: dict[str, Any] = json.loads(line[len(RESULT_TAG) :])
            return result
    raise RuntimeError(f"{args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")


# --------------------------------------------------------------------------- report


def _mb(n: float) -> str:
    return f"{n / MB:,.0f} MB"


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [
        "# Dask benchmark: linear mixed models from Parquet on a capped LocalCluster",
        "",
        f"Run {date.today().isoformat()} with `python benchmarks/dask_fit.py` on {os.cpu_count()}"
        f" cores ({cpu}), {_total_memory()} RAM, Python {platform.python_version()}, "
        f"dask {_version('dask')}, distributed {_version('distributed')}. LocalCluster: "
        f"{args.workers} worker processes, 1 thread each, `memory_limit={args.worker_memory}` "
        "per worker; the client process also runs the scheduler. Model "
        f"`{FORMULA}` (REML). Peak memory is resident memory sampled every 50 ms.",
        "",
    ]
    if args.note:
        lines += [args.note, ""]
    lines += [
        "| data | rows | partitions | levels of g | on disk | in memory (pandas) "
        "| fit time | optimizer | client peak | worker peaks (start) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key, label in (("1m", "sim_nested_slopes"), ("large", "generated, same design")):
        if key not in results:
            continue
        r = results[key]
        workers = ", ".join(
            f"{_mb(r['peak_rss'][w])} ({_mb(r['start_rss'][w])})"
            for w in sorted(r["peak_rss"])
            if w.startswith("worker")
        )
        memory = results.get(f"{key}_memory_bytes", "")
        lines.append(
            f"| {label} | {r['rows']:,} | {r['partitions']} | {r['levels']:,} | "
            f"{_mb(r['disk_bytes'])} | {memory} | {r['seconds']:.1f} s | "
            f"{r['optimizer_seconds']:.2f} s, {r['evaluations']} evaluations | "
            f"{_mb(r['peak_rss']['client'])} ({_mb(r['start_rss']['client'])} at start) | "
            f"{workers} |"
        )
    if "1m_memory" in results:
        m, d = results["1m_memory"], results["1m"]
        lines += [
            "",
            f"The same 1M rows fitted in memory with pandas (fresh process): read "
            f"{m['read_seconds']:.2f} s, fit {m['seconds']:.2f} s, peak {_mb(m['maxrss'])}. "
            f"Dask against pandas: objective differs by "
            f"{abs(d['objective'] - m['objective']):.1e} "
            f"(relative {abs(d['objective'] - m['objective']) / abs(m['objective']):.1e}), "
            f"theta by at most {np.max(np.abs(np.subtract(d['theta'], m['theta']))):.1e}, "
            f"beta by at most {np.max(np.abs(np.subtract(d['beta'], m['beta']))):.1e}.",
        ]
    return "\n".join(lines) + "\n"


def _version(name: str) -> str:
    try:
        return str(__import__(name).__version__)
    except ImportError:
        return "absent"


def _total_memory() -> str:
    try:
        import psutil

        return f"{psutil.virtual_memory().total / 2**30:.0f} GiB"
    except ImportError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/mixedmodels-dask-bench"))
    parser.add_argument("--kit", type=Path, default=HERE.parents[1] / "shared" / "bench")
    parser.add_argument("--worker-memory", default="800MB")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--large-rows", type=int, default=50_000_000)
    parser.add_argument("--large-groups", type=int, default=100_000)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--output", type=Path, default=HERE / "dask_results.md")
    parser.add_argument("--note", default="", help="a line added to the report")
    parser.add_argument("--internal", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.internal:
        what, path = args.internal[0], Path(args.internal[1])
        if what == "cluster":
            result = fit_on_cluster(path, args.worker_memory, args.workers)
        else:
            result = fit_in_memory(path)
        print(RESULT_TAG + json.dumps(result))
        return

    kit = args.kit if args.kit.exists() else Path("../shared/bench")
    small, large = args.data / "nested_1m", args.data / f"nested_{args.large_rows}"
    if not (small / "part-0000.parquet").exists():
        print("writing the 1M-row benchmark model as Parquet ...", flush=True)
        write_benchmark_model(kit, small, row_group=50_000)
    results: dict[str, Any] = {}
    print("fitting the 1M rows on the cluster ...", flush=True)
    results["1m"] = in_fresh_process(
        "--worker-memory", args.worker_memory, "--internal", "cluster", str(small)
    )
    results["1m"]["disk_bytes"] = directory_bytes(small)
    print(json.dumps(results["1m"]), flush=True)
    results["1m_memory"] = in_fresh_process("--internal", "memory", str(small))
    m = results["1m_memory"]
    results["1m_memory_bytes"] = (
        f"{_mb(m['data_bytes'])} (object strings: {_mb(m['data_bytes_object_strings'])})"
    )
    print(json.dumps(results["1m_memory"]), flush=True)
    if not args.skip_large:
        if not any(large.glob("*.parquet")):
            print(f"writing {args.large_rows:,} rows as Parquet ...", flush=True)
            t0 = time.perf_counter()
            write_large(large, args.large_rows, args.large_groups, 1_000_000, 250_000)
            print(f"  {time.perf_counter() - t0:.0f} s", flush=True)
        print("fitting the large data set on the cluster ...", flush=True)
        results["large"] = in_fresh_process(
            "--worker-memory", args.worker_memory, "--internal", "cluster", str(large)
        )
        results["large"]["disk_bytes"] = directory_bytes(large)
        # in-memory size, extrapolated from the 1M rows of the same columns
        scale = results["large"]["rows"] / m["rows"]
        results["large_memory_bytes"] = (
            f"about {_mb(m['data_bytes'] * scale)} (object strings: "
            f"{_mb(m['data_bytes_object_strings'] * scale)})"
        )
        print(json.dumps(results["large"]), flush=True)
    text = report(results, args)
    args.output.write_text(text)
    (args.output.with_suffix(".json")).write_text(json.dumps(results, indent=1) + "\n")
    print(text)


if __name__ == "__main__":
    main()
