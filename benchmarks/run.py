"""Benchmark mixedmodels side by side with lme4, mixedlm and statsmodels in one run.

Usage::

    python benchmarks/run.py                      # all models, all peers that are present
    python benchmarks/run.py --models sleepstudy --reps 20
    python benchmarks/run.py --models nested,crossed --no-peers

Every measurement (one package on one model) runs in its own fresh Python or R process.
That process loads the data, does one warm-up fit on sleepstudy (Python packages only, so
imports and JIT compilation are not timed), records its resident memory, resets its peak-RSS
counter and then times the fit alone with a wall clock.  The table goes to stdout,
``benchmarks/results.md`` and ``benchmarks/results.json``.  See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import gc
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata, util
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / "data"
DEFAULT_KIT = Path(__file__).resolve().parents[2] / "shared" / "bench"
SIM_FILES = ("sim_nested_slopes.csv", "sim_crossed.csv", "sim_logistic.csv")
OURS = "mixedmodels"
#: A GLMM's Python warm-up fits the same model to this many leading rows of its CSV.
GLMM_WARMUP_ROWS = 5_000
RESULT_TAG = "BENCH-RESULT "
#: Other programs using this many CPUs during a measurement get a note in the table.
BUSY_CPUS = 0.2
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
MB = 1024.0


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class Model:
    """One benchmark model: its data, formula and which peers run it."""

    key: str
    label: str
    csv: str
    formula: str
    factors: tuple[str, ...]
    peers: tuple[str, ...]
    nrows: int | None = None
    small: bool = False
    glmm: bool = False
    family: str = "gaussian"  # a GLMM's family, as mixedmodels and R name it
    statsmodels: tuple[str, str, str] | None = None  # (fixed formula, groups, re_formula)
    #: (package, reason) pairs listed in the table as "n/a" instead of being run
    unsupported: tuple[tuple[str, str], ...] = ()
    #: the same model as mixedlm's parser accepts it (None: ``formula``)
    mixedlm_formula: str | None = None
    #: a factor response's success level: mixedlm is given the 0/1 column instead
    success_level: str | None = None

    @property
    def criterion_kind(self) -> str:
        """What the criterion column holds for this model."""
        return "-2 log L" if self.glmm else "REML"


MODELS: dict[str, Model] = {
    m.key: m
    for m in (
        Model(
            key="sleepstudy",
            label="sleepstudy (180 rows)",
            csv="sleepstudy.csv",
            formula="Reaction ~ Days + (Days | Subject)",
            factors=("Subject",),
            peers=("lme4", "mixedlm", "statsmodels"),
            small=True,
            statsmodels=("Reaction ~ Days", "Subject", "~Days"),
        ),
        Model(
            key="nested",
            label="sim_nested_slopes (1M rows)",
            csv="sim_nested_slopes.csv",
            formula="y ~ x + (1 + x | g)",
            factors=("g",),
            peers=("lme4", "mixedlm"),
        ),
        Model(
            key="nested100k",
            label="sim_nested_slopes, FIRST 100k ROWS ONLY",
            csv="sim_nested_slopes.csv",
            formula="y ~ x + (1 + x | g)",
            factors=("g",),
            peers=("statsmodels",),  # statsmodels is far too slow on the full 1M rows
            nrows=100_000,
            statsmodels=("y ~ x", "g", "~x"),
        ),
        Model(
            key="crossed",
            label="sim_crossed (500k rows)",
            csv="sim_crossed.csv",
            formula="y ~ x + (1 | subj) + (1 | item)",
            factors=("subj", "item"),
            peers=("lme4", "mixedlm"),  # statsmodels cannot express crossed effects
        ),
        # lme4's InstEval (exported by ensure_r_export): three crossed scalar terms, the
        # multi-factor case MixedModels.jl documents
        Model(
            key="insteval",
            label="InstEval (73k rows, 3 crossed terms)",
            csv="InstEval.csv",
            formula="y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept)",
            factors=("s", "d", "dept", "service"),
            peers=("lme4", "mixedlm"),
        ),
        # GLMM, Laplace (nAGQ = 1): lme4 via `lme4_perf.R CSV glmer FORMULA binomial`,
        # mixedlm via `mixedlm.glmer`; statsmodels has no frequentist GLMM.
        Model(
            key="logistic",
            label="sim_logistic (200k rows, binomial)",
            csv="sim_logistic.csv",
            formula="y ~ x + (1 | g)",
            factors=("g",),
            peers=("lme4", "mixedlm"),
            glmm=True,
            family="binomial",
            unsupported=(("statsmodels", "no frequentist GLMM"),),
        ),
        # lme4's VerbAgg, crossed Bernoulli: exported by export_verbagg.R; mixedlm's parser
        # takes the fixed part without its parentheses and needs r2 as 0/1
        Model(
            key="verbagg",
            label="VerbAgg (7,584 rows, crossed binomial)",
            csv="VerbAgg.csv",
            formula="r2 ~ (Anger + Gender + btype + situ) + (1 | id) + (1 | item)",
            factors=("Gender", "item", "resp", "id", "btype", "situ", "mode", "r2"),
            peers=("lme4", "mixedlm"),
            small=True,
            glmm=True,
            family="binomial",
            unsupported=(("statsmodels", "no frequentist GLMM"),),
            mixedlm_formula="r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)",
            success_level="Y",
        ),
    )
}
#: What each ``--models`` name expands to (nested brings its 100k-row statsmodels comparison).
MODEL_GROUPS = {
    "sleepstudy": ("sleepstudy",),
    "nested": ("nested", "nested100k"),
    "nested100k": ("nested100k",),
    "crossed": ("crossed",),
    "insteval": ("insteval",),
    "logistic": ("logistic",),
    "verbagg": ("verbagg",),
}
WARMUP = MODELS["sleepstudy"]


@dataclass
class Measurement:
    """The outcome of one package fitting one model in its own process."""

    model: str
    package: str
    status: str = "ok"  # ok | error | timeout | n/a
    seconds: float | None = None
    all_seconds: list[float] = field(default_factory=list)
    baseline_mb: float | None = None
    peak_mb: float | None = None
    load_peak_mb: float | None = None
    criterion: float | None = None
    criterion_kind: str | None = None  # "REML" (REML criterion) or "-2 log L" (GLMMs)
    theta: list[float] | None = None
    evaluations: int | None = None
    converged: bool | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    wall_seconds: float | None = None
    load_before: float | None = None  # 1-minute load average when the measurement started
    other_cpus: float | None = None  # CPUs kept busy by other programs during the measurement
    module: str | None = None  # file of the Python package that was imported and measured


@dataclass
class Context:
    """Everything a run needs to know: where things are and what is available."""

    data_dir: Path
    kit: Path
    reps: int
    timeout: float
    peers: tuple[str, ...]
    wait_idle: float = 0.0
    pythonpath: Path | None = None  # pinned copy of mixedmodels, put first on sys.path
    blas_threads: int | None = None  # set OPENBLAS/OMP/MKL_NUM_THREADS in every child

    def child_env(self) -> dict[str, str]:
        """The environment of every measurement process."""
        env = dict(os.environ)
        if self.pythonpath is not None:
            parts = [str(self.pythonpath), env.get("PYTHONPATH", "")]
            env["PYTHONPATH"] = os.pathsep.join(p for p in parts if p)
        if self.blas_threads is not None:
            env.update({var: str(self.blas_threads) for var in THREAD_VARS})
        return env


# --------------------------------------------------------------------------- memory


def _status_mb(key: str) -> float | None:
    """A ``VmRSS``/``VmHWM`` line of /proc/self/status, in MB (None off Linux)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / MB
    except OSError:
        return None
    return None


def load_average() -> float | None:
    """The machine's 1-minute load average (other programs running compete for the CPUs)."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def machine_busy_seconds() -> float | None:
    """CPU seconds all programs on this machine have used since boot (from /proc/stat)."""
    try:
        with open("/proc/stat") as fh:
            ticks = [int(v) for v in fh.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU seconds used by this process's finished children (and theirs)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _reset_peak_rss() -> bool:
    """Reset this process's peak-RSS counter (VmHWM, ru_maxrss) to its current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    """Peak RSS of this process so far, in MB (the same counter as ru_maxrss)."""
    import resource

    hwm = _status_mb("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / MB


# --------------------------------------------------------------------------- Python workers


def _load_frame(path: Path, model: Model) -> Any:
    """Read a model's CSV; grouping columns become categoricals, as R's factors."""
    import pandas as pd

    return pd.read_csv(path, nrows=model.nrows, dtype={f: "category" for f in model.factors})


def _theta_from_cov(cov: Any) -> list[float]:
    """lme4's theta (column-wise lower Cholesky factor) from a relative covariance."""
    import numpy as np

    chol = np.linalg.cholesky(np.asarray(cov, dtype=float))
    k = chol.shape[0]
    return [float(chol[i, j]) for j in range(k) for i in range(j, k)]


def _fit_mixedmodels(model: Model, df: Any) -> Any:
    """mixedmodels' REML fit (its default), or its Laplace GLMM fit (nagq=1, the default)."""
    import mixedmodels as mm

    if model.glmm:
        return mm.glmm(model.formula, df, family=model.family)
    return mm.lmm(model.formula, df)


def _describe_mixedmodels(model: Model, fit: Any) -> dict[str, Any]:
    """Criterion, theta and optimizer facts of a mixedmodels fit."""
    info = fit.optinfo
    return {
        "criterion": -2.0 * float(fit.loglik) if model.glmm else float(fit.objective),
        "theta": [float(t) for t in fit.theta],
        "evaluations": int(info.n_evaluations),
        "converged": bool(info.converged),
        "notes": [f"{info.optimizer}: {info.message}"] if not info.converged else [],
    }


def _fit_mixedlm(model: Model, df: Any) -> Any:
    """mixedlm's lme4-like ``lmer`` with REML, or ``glmer`` (Laplace, nAGQ=1) for a GLMM."""
    import mixedlm

    if model.glmm:
        families = {"binomial": mixedlm.families.Binomial, "poisson": mixedlm.families.Poisson}
        formula = model.mixedlm_formula or model.formula
        return mixedlm.glmer(formula, df, family=families[model.family]())
    return mixedlm.lmer(model.formula, df, REML=True)


def _describe_mixedlm(model: Model, fit: Any) -> dict[str, Any]:
    """Criterion, theta and optimizer facts of a mixedlm fit."""
    if model.glmm:
        # get_deviance() is -2 * logLik() with the response-density constants; glmer's
        # result counts optimizer iterations (both stages), not objective evaluations
        return {
            "criterion": float(fit.get_deviance()),
            "theta": [float(t) for t in fit.theta],
            "converged": bool(fit.converged),
            "notes": [f"{fit.n_iter} optimizer iterations (both stages), not evaluations"]
            + ([fit.message] if not fit.converged and fit.message else []),
        }
    return {
        "criterion": float(fit.REMLcrit()),
        "theta": [float(t) for t in fit.theta],
        "evaluations": int(fit.function_evals),
        "converged": bool(fit.converged),
        "notes": [fit.message] if not fit.converged and fit.message else [],
    }


def _fit_statsmodels(model: Model, df: Any) -> Any:
    """statsmodels MixedLM with REML; only one grouping factor is expressible."""
    import statsmodels.formula.api as smf

    if model.statsmodels is None:
        raise ValueError(f"statsmodels cannot express {model.formula}")
    fixed, groups, re_formula = model.statsmodels
    return smf.mixedlm(fixed, df, groups=df[groups], re_formula=re_formula).fit(reml=True)


def _describe_statsmodels(model: Model, fit: Any) -> dict[str, Any]:
    """Criterion (-2 REML log-likelihood) and lme4-ordered theta of a MixedLM fit."""
    try:
        theta = _theta_from_cov(fit.cov_re.values / fit.scale)
    except Exception:  # a singular cov_re has no Cholesky factor
        theta = None
    return {"criterion": float(-2.0 * fit.llf), "theta": theta, "converged": bool(fit.converged)}


def _prepare_mixedlm(model: Model, df: Any) -> Any:
    """mixedlm's GLMM wants a 0/1 response: the factor's success level becomes 1."""
    if model.success_level is None:
        return df
    response = model.formula.split("~")[0].strip()
    out = df.copy()
    out[response] = (out[response] == model.success_level).astype(int)
    return out


#: Per package, what its data frame needs before the (untimed) warm-up and the fits.
PREPARE: dict[str, Callable[[Model, Any], Any]] = {"mixedlm": _prepare_mixedlm}

FITTERS: dict[str, tuple[Callable[[Model, Any], Any], Callable[[Model, Any], dict[str, Any]]]] = {
    "mixedmodels": (_fit_mixedmodels, _describe_mixedmodels),
    "mixedlm": (_fit_mixedlm, _describe_mixedlm),
    "statsmodels": (_fit_statsmodels, _describe_statsmodels),
}


def _timed_fits(
    fit_fn: Callable[[Model, Any], Any], model: Model, df: Any, reps: int
) -> tuple[Any, list[float], list[str]]:
    """Fit ``reps`` times; return the last fit, each fit's seconds and distinct warnings."""
    seconds: list[float] = []
    result: Any = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(reps):
            result = None
            gc.collect()
            start = time.perf_counter()
            result = fit_fn(model, df)
            seconds.append(time.perf_counter() - start)
    messages = list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
    return result, seconds, messages


def warmup_model(model: Model) -> Model:
    """What a Python worker fits first: sleepstudy, or for a GLMM the same GLMM on the
    first GLMM_WARMUP_ROWS rows (so the GLMM code is imported and compiled untimed)."""
    return replace(model, nrows=GLMM_WARMUP_ROWS) if model.glmm else WARMUP


def python_worker(package: str, model: Model, data_dir: Path, reps: int) -> Measurement:
    """Run inside a fresh process: load, warm up, measure memory and time the fit."""
    fit_fn, describe = FITTERS[package]
    out = Measurement(model.key, package, criterion_kind=model.criterion_kind)
    prepare = PREPARE.get(package, lambda _model, frame: frame)
    df = prepare(model, _load_frame(data_dir / model.csv, model))
    warm = warmup_model(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_fn(warm, prepare(warm, _load_frame(data_dir / warm.csv, warm)))
    out.module = getattr(sys.modules.get(package), "__file__", None)
    gc.collect()
    out.baseline_mb, out.load_peak_mb = _status_mb("VmRSS"), _peak_rss_mb()
    if not _reset_peak_rss():
        out.notes.append("peak RSS could not be reset: peak includes loading")
    result, out.all_seconds, caught = _timed_fits(fit_fn, model, df, reps)
    out.peak_mb = _peak_rss_mb()
    out.seconds = statistics.median(out.all_seconds)
    described = describe(model, result)
    out.notes.extend(described.pop("notes", []))
    out.notes.extend(caught)
    for key, value in described.items():
        setattr(out, key, value)
    return out


def worker_main(spec: str) -> int:
    """Entry point of a measurement process; prints one tagged JSON line."""
    args = json.loads(spec)
    model = MODELS[args["model"]]
    measurement = python_worker(args["package"], model, Path(args["data_dir"]), args["reps"])
    print(RESULT_TAG + json.dumps(asdict(measurement)), flush=True)
    return 0


# --------------------------------------------------------------------------- running children

# Runs lme4_perf.R unchanged: a global read.csv wrapper records the RSS once the data are
# loaded and resets the peak counter, so the peak printed at the end is the fit's.  For a
# glmer fit, lme4_perf.R prints deviance(m), the sum of the deviance residuals, which is not
# -2 log L; once it is done (and the peak taken), the wrapper prints -2 * logLik(m) and the
# evaluations of the fit's final optimizer stage from the model `m` it left behind.
R_WRAPPER = r"""
.vm_mb <- function(key) {
  s <- grep(paste0("^", key, ":"), readLines("/proc/self/status"), value = TRUE)
  as.numeric(gsub("[^0-9]", "", s)) / 1024
}
read.csv <- function(...) {
  d <- utils::read.csv(...)
  invisible(gc())
  cat(sprintf("MEM baseline=%.1f loadpeak=%.1f\n", .vm_mb("VmRSS"), .vm_mb("VmHWM")))
  ok <- tryCatch({ cat("5", file = "/proc/self/clear_refs"); TRUE }, error = function(e) FALSE)
  if (!ok) cat("MEM noreset\n")
  d
}
source(@LME4_PERF@)
cat(sprintf("MEM peak=%.1f\n", .vm_mb("VmHWM")))
if (exists("m") && inherits(m, "glmerMod")) {
  cat(sprintf("GLMM m2loglik=%.8f feval=%d optimizer=%s\n", -2 * as.numeric(logLik(m)),
              as.integer(m@optinfo$feval), m@optinfo$optimizer))
}
"""
LME4_LINE = re.compile(r"lme4 fit seconds median=([\d.]+) crit=([-\d.eE+]+) theta=(\S*)")
LME4_GLMM_LINE = re.compile(r"GLMM m2loglik=([-\d.eE+]+) feval=(\d+) optimizer=(\S+)")


def _run_child(
    cmd: Sequence[str], timeout: float, env: dict[str, str] | None = None
) -> tuple[int | None, str, str, float]:
    """Run one measurement process; return (returncode or None on timeout, out, err, wall)."""
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, cwd=BENCH_DIR, env=env
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or ""
        return None, out, err, time.perf_counter() - start
    return proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start


def _failed(model: Model, package: str, code: int | None, out: str, err: str) -> Measurement:
    """A Measurement for a child that crashed or timed out, keeping its output."""
    status = "timeout" if code is None else "error"
    text = err.strip() or out.strip() or f"exit code {code}"
    return Measurement(model.key, package, status=status, error=text[-6000:])


def measure_python(package: str, model: Model, ctx: Context, reps: int) -> Measurement:
    """Measure a Python package in a fresh interpreter running this file as a worker."""
    spec = json.dumps(
        {"package": package, "model": model.key, "data_dir": str(ctx.data_dir), "reps": reps}
    )
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", spec]
    code, out, err, wall = _run_child(cmd, ctx.timeout, ctx.child_env())
    lines = [ln for ln in out.splitlines() if ln.startswith(RESULT_TAG)]
    if code != 0 or not lines:
        return _failed(model, package, code, out, err)
    result = Measurement(**json.loads(lines[-1][len(RESULT_TAG) :]))
    result.wall_seconds = wall
    return result


def _parse_mem(out: str) -> dict[str, float]:
    """The ``MEM key=value`` lines printed by the R wrapper."""
    values: dict[str, float] = {}
    for line in out.splitlines():
        if line.startswith("MEM "):
            values.update((k, float(v)) for k, v in re.findall(r"(\w+)=([\d.]+)", line))
    return values


def measure_lme4(model: Model, ctx: Context, reps: int) -> Measurement:
    """Measure lme4 through Rscript and the kit's lme4_perf.R (fit timed inside R)."""
    wrapper = R_WRAPPER.replace("@LME4_PERF@", json.dumps(str(ctx.kit / "lme4_perf.R")))
    cmd = [
        "Rscript",
        "-e",
        wrapper,
        str(ctx.data_dir / model.csv),
        "glmer" if model.glmm else "lmer",
        model.formula,
        model.family,
        str(reps),
    ]
    code, out, err, wall = _run_child(cmd, ctx.timeout, ctx.child_env())
    match = LME4_LINE.search(out)
    if code != 0 or match is None:
        return _failed(model, "lme4", code, out, err)
    mem = _parse_mem(out)
    result = Measurement(
        model.key,
        "lme4",
        seconds=float(match.group(1)),
        criterion=float(match.group(2)),
        criterion_kind=model.criterion_kind,
        theta=[float(t) for t in match.group(3).split(",") if t],
        baseline_mb=mem.get("baseline"),
        load_peak_mb=mem.get("loadpeak"),
        peak_mb=mem.get("peak"),
        wall_seconds=wall,
    )
    if model.glmm:
        result.notes.append(f"lme4_perf.R deviance() = {result.criterion:.6f}")
        glmm = LME4_GLMM_LINE.search(out)
        if glmm is None:  # deviance() is not -2 log L: say so rather than compare them
            result.criterion_kind = "deviance()"
        else:
            result.criterion = float(glmm.group(1))
            result.evaluations = int(glmm.group(2))
            result.notes.append(f"evals: final {glmm.group(3)} stage only")
    if reps > 1:
        result.notes.append(f"median of {reps} fits (lme4_perf.R)")
    if "noreset" in out:
        result.notes.append("peak RSS could not be reset: peak includes loading")
    return result


def measure(package: str, model: Model, ctx: Context) -> Measurement:
    """Measure one package on one model in its own process."""
    reps = ctx.reps if model.small else 1
    if package == "lme4":
        return measure_lme4(model, ctx, reps)
    return measure_python(package, model, ctx, reps)


def wait_until_idle(max_seconds: float, window: float = 2.0) -> float | None:
    """Wait (at most max_seconds) until other programs use under BUSY_CPUS CPUs.

    Returns the CPUs in use over the last window, or None when that cannot be read.
    """
    deadline = time.monotonic() + max_seconds
    while True:
        before = machine_busy_seconds()
        time.sleep(window)
        after = machine_busy_seconds()
        if before is None or after is None:
            return None
        busy = (after - before) / window
        if busy < BUSY_CPUS or time.monotonic() >= deadline:
            return busy


def observed(package: str, model: Model, ctx: Context) -> Measurement:
    """measure(), plus how busy the machine was with other programs meanwhile."""
    reason = dict(model.unsupported).get(package)
    if reason is not None:
        return Measurement(model.key, package, status="n/a", notes=[reason])
    if ctx.wait_idle > 0:
        in_use = wait_until_idle(ctx.wait_idle)
        if in_use is not None and in_use >= BUSY_CPUS:
            print(f"    machine still busy ({in_use:.1f} CPUs), measuring anyway", flush=True)
    load = load_average()
    busy0, child0, start = machine_busy_seconds(), children_cpu_seconds(), time.perf_counter()
    m = measure(package, model, ctx)
    wall = time.perf_counter() - start
    busy1, child1 = machine_busy_seconds(), children_cpu_seconds()
    m.load_before = load
    if busy0 is not None and busy1 is not None and wall > 0.5:
        m.other_cpus = max(0.0, (busy1 - busy0 - (child1 - child0)) / wall)
    return m


# --------------------------------------------------------------------------- environment


def _version(dist: str) -> str | None:
    """An installed distribution's version, or None."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


@functools.cache
def r_versions() -> dict[str, str] | None:
    """R and lme4 versions, or None when Rscript or lme4 is missing."""
    if shutil.which("Rscript") is None:
        return None
    expr = (
        'cat(R.version$major, ".", R.version$minor, " ", '
        'as.character(packageVersion("lme4")), sep = "")'
    )
    proc = subprocess.run(["Rscript", "-e", expr], capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    r_version, lme4_version = proc.stdout.split()
    return {"R": r_version, "lme4": lme4_version}


def available_peers(kit: Path) -> tuple[tuple[str, ...], dict[str, str]]:
    """Peers that can run here, and why the others cannot."""
    peers: list[str] = []
    missing: dict[str, str] = {}
    if r_versions() is None:
        missing["lme4"] = "Rscript or R package lme4 not found"
    elif not (kit / "lme4_perf.R").exists():
        missing["lme4"] = f"{kit / 'lme4_perf.R'} not found"
    else:
        peers.append("lme4")
    for name in ("mixedlm", "statsmodels"):
        if util.find_spec(name) is None:
            missing[name] = "not importable"
        else:
            peers.append(name)
    return tuple(peers), missing


def machine_info() -> dict[str, Any]:
    """CPU count and model, memory and Python of this machine."""
    cpu, mem_kb = "unknown", None
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
        cpu = found.group(1).strip() if found else cpu
        meminfo = re.search(r"^MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text(), re.M)
        mem_kb = int(meminfo.group(1)) if meminfo else None
    except OSError:
        pass
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "nproc": nproc,
        "cpu": cpu,
        "memory_gib": round(mem_kb / 1024**2, 1) if mem_kb else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def source_state() -> str:
    """Which mixedmodels source is measured: the commit, plus a digest of uncommitted src/ edits."""
    import hashlib

    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], capture_output=True, text=True, cwd=BENCH_DIR.parent)
        return proc.stdout if proc.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD").strip()
    if not commit:
        return "unknown (not a git checkout)"
    diff = git("diff", "HEAD", "--", "src")
    if not diff:
        return f"commit {commit}, src/ clean"
    digest = hashlib.sha1(diff.encode()).hexdigest()[:10]
    return f"commit {commit} + uncommitted src/ changes (diff sha1 {digest})"


@contextlib.contextmanager
def pinned_source(enabled: bool) -> Iterator[Path | None]:
    """Copy src/mixedmodels to a temporary directory for the run's Python workers.

    Others may edit src/ while a run takes minutes; with the copy every measurement of the
    run fits with the same code, the code as it was when the run started.
    """
    package = BENCH_DIR.parent / "src" / "mixedmodels"
    if not enabled or not package.is_dir():
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="mixedmodels-bench-") as tmp:
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(package, Path(tmp) / "mixedmodels", ignore=ignore)
        yield Path(tmp)


def package_versions() -> dict[str, str | None]:
    """Versions of the measured packages and their numerical stack."""
    names = ("mixedmodels", "mixedlm", "statsmodels", "numpy", "scipy", "pandas")
    versions: dict[str, str | None] = {n: _version(n) for n in names}
    versions.update(r_versions() or {"R": None, "lme4": None})
    return versions


# --------------------------------------------------------------------------- data


def ensure_sim_data(data_dir: Path, kit: Path) -> None:
    """Write the simulated CSVs with the kit's make_sim.py unless all are present."""
    if all((data_dir / name).exists() for name in SIM_FILES):
        return
    script = kit / "make_sim.py"
    if not script.exists():
        raise SystemExit(f"{script} not found: pass --bench-kit PATH")
    data_dir.mkdir(parents=True, exist_ok=True)
    print(f"generating simulated data with {script} ...", flush=True)
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".gen-") as tmp:
        subprocess.run([sys.executable, str(script), tmp], check=True)
        for name in SIM_FILES:  # move only complete files into place
            os.replace(Path(tmp) / name, data_dir / name)


def ensure_r_export(data_dir: Path, name: str) -> None:
    """Export lme4's data set ``name`` with ``export_<name>.R`` (InstEval, VerbAgg) unless
    its CSV is present."""
    path = data_dir / f"{name}.csv"
    if path.exists():
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    script = BENCH_DIR / f"export_{name.lower()}.R"
    subprocess.run(["Rscript", str(script), str(path)], check=True)


def ensure_sleepstudy(data_dir: Path) -> None:
    """Export ``mm.datasets.load("sleepstudy")`` to CSV so every program reads the same file."""
    path = data_dir / "sleepstudy.csv"
    if path.exists():
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    code = (
        "import sys, mixedmodels as mm; "
        "mm.datasets.load('sleepstudy').to_csv(sys.argv[1], index=False)"
    )
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)


# --------------------------------------------------------------------------- report


def _fmt(value: float | None, spec: str) -> str:
    """Format a number, or "-" for a missing one."""
    return "-" if value is None else format(value, spec)


def _ratio(m: Measurement, ours: Measurement | None) -> str:
    """The peer's fit seconds over ours, formatted."""
    if m.package == OURS:
        return "1.00" if m.seconds is not None else "-"
    if m.seconds is None or ours is None or not ours.seconds:
        return "-"
    return f"{m.seconds / ours.seconds:.2f}"


def _delta(m: Measurement, ours: Measurement | None) -> str:
    """The peer's criterion minus ours, formatted (only when both are the same quantity)."""
    if m.package == OURS or m.criterion is None or ours is None or ours.criterion is None:
        return ""
    if m.criterion_kind != ours.criterion_kind:
        return "not comparable"
    return f"{m.criterion - ours.criterion:+.2e}"


HEADER = (
    "model",
    "package",
    "fit s",
    "peer/ours",
    "base MB",
    "peak MB",
    "fit +MB",
    "crit is",
    "criterion",
    "crit - ours",
    "theta",
    "evals",
    "notes",
)


def _row(m: Measurement, ours: Measurement | None) -> tuple[str, ...]:
    """The table row of one measurement, in HEADER's order."""
    label = MODELS[m.model].label
    if m.status != "ok":
        note = "; ".join(m.notes) or "see Failures below"
        return (label, m.package, m.status, *[""] * (len(HEADER) - 4), note)
    growth = None
    if m.peak_mb is not None and m.baseline_mb is not None:
        growth = m.peak_mb - m.baseline_mb
    notes = (["NOT CONVERGED"] if m.converged is False else []) + list(m.notes)
    if m.other_cpus is not None and m.other_cpus >= BUSY_CPUS:
        notes.append(f"other programs kept {m.other_cpus:.1f} CPUs busy meanwhile")
    return (
        label,
        m.package,
        _fmt(m.seconds, ".3f"),
        _ratio(m, ours),
        _fmt(m.baseline_mb, ".0f"),
        _fmt(m.peak_mb, ".0f"),
        _fmt(growth, ".0f"),
        m.criterion_kind or "-",
        _fmt(m.criterion, ".6f"),
        _delta(m, ours),
        ",".join(f"{t:.5g}" for t in m.theta) if m.theta else "-",
        "-" if m.evaluations is None else str(m.evaluations),
        "; ".join(n.replace("\n", " ") for n in notes),
    )


def table_rows(results: list[Measurement]) -> list[tuple[str, ...]]:
    """One row of strings per measurement."""
    ours = {m.model: m for m in results if m.package == OURS}
    return [_row(m, ours.get(m.model)) for m in results]


def text_table(rows: list[tuple[str, ...]]) -> str:
    """A plain aligned table (notes column left unpadded)."""
    widths = [max(len(r[i]) for r in [HEADER, *rows]) for i in range(len(HEADER) - 1)]
    left = {HEADER.index(name) for name in ("model", "package", "crit is", "theta")}
    lines = []
    for r in [HEADER, *rows]:
        cells = [
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(r[:-1], widths, strict=True))
        ]
        lines.append("  ".join(cells) + "  " + r[-1])
    lines.insert(1, "-" * max(len(ln) for ln in lines))
    return "\n".join(lines)


def markdown_table(rows: list[tuple[str, ...]]) -> str:
    """The same table in Markdown."""

    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def preamble(meta: dict[str, Any], results: list[Measurement]) -> list[str]:
    """The lines that say where, when, with what and how the numbers were taken."""
    mach, ver = meta["machine"], meta["versions"]
    versions = ", ".join(f"{k} {v}" for k, v in ver.items() if v)
    source = meta["source"]["start"]
    if meta["source"]["pinned"]:
        source += " (copied at the start, so every measurement used this code)"
    if meta["source"]["end"] != meta["source"]["start"]:
        source += f"; src/ CHANGED during the run, at the end: {meta['source']['end']}"
    lines = [
        f"Run {meta['date']} on {mach['nproc']} CPUs ({mach['cpu']}), "
        f"{mach['memory_gib']} GiB RAM, Python {mach['python']}",
        f"Versions: {versions}",
        f"mixedmodels source: {source}",
        "Thread settings in every measurement process: "
        + (", ".join(f"{k}={v}" for k, v in meta["thread_env"].items()) or "none (defaults)"),
        "fit s: wall seconds of the fit call only, data already in memory (Python: "
        "time.perf_counter; lme4: system.time inside R via lme4_perf.R); median of "
        f"{meta['reps']} fits for the small models (sleepstudy, VerbAgg), one fit otherwise.",
        "Each measurement runs in its own fresh process; Python packages do one warm-up fit "
        "on sleepstudy in that process first (for a GLMM: the same GLMM on the first "
        f"{GLMM_WARMUP_ROWS:,} rows), so imports and JIT compilation are not timed.",
        "base MB: RSS after loading the data (and the warm-up); peak MB: peak RSS of the "
        "process during the fit (counter reset after loading), data in memory; fit +MB = "
        "peak - base.",
        "peer/ours: peer's fit seconds / mixedmodels' on the same data (>1: mixedmodels "
        "faster). crit - ours: REML criterion minus mixedmodels' (statsmodels: -2 * REML llf).",
    ]
    if any(MODELS[m.model].glmm for m in results):
        lines.append(
            "GLMMs (crit is '-2 log L'): the criterion is -2 log L of the Laplace "
            "approximation with all constants (mixedmodels: -2 * loglik; mixedlm: "
            "get_deviance(); lme4: -2 * logLik(m), taken after lme4_perf.R's fit, whose "
            "printed deviance() is the sum of deviance residuals and is only noted). "
            "mixedmodels evaluates the Laplace approximation at the exact PIRLS mode; lme4 "
            "stops PIRLS at its tolerance (lme4 issues #289, #998), so its -2 log L sits "
            "a little above the exact value, more so on larger data; theta should agree "
            "to about 1e-3 relative. "
            "evals: mixedmodels and lme4 count the final (theta, beta) stage only; mixedlm "
            "reports iterations, in notes."
        )
    lines += [f"Not run: {k} ({v})" for k, v in meta["missing_peers"].items()]
    others = [m.other_cpus for m in results if m.other_cpus is not None]
    if others:
        lines.append(
            f"Other programs kept {min(others):.2f} to {max(others):.2f} of the "
            f"{meta['machine']['nproc']} CPUs busy during the measurements (from "
            "/proc/stat minus the measured process); where that is high, times are "
            "inflated and the row says so."
        )
    return lines


def failures(results: list[Measurement]) -> list[str]:
    """Full error text of every measurement that failed."""
    out = []
    for m in results:
        if m.error:
            out += [f"--- {m.model} / {m.package}: {m.status}", m.error]
    return out


def write_reports(results: list[Measurement], meta: dict[str, Any], out_dir: Path) -> str:
    """Print-ready text; also writes results.md and results.json into out_dir."""
    rows = table_rows(results)
    fail = failures(results)
    text = "\n".join(
        [*preamble(meta, results), "", text_table(rows)]
        + (["", "Failures:", *fail] if fail else [])
    )
    md = [
        "# Benchmark results",
        "",
        *[f"- {ln}" for ln in preamble(meta, results)],
        "",
        markdown_table(rows),
    ]
    if fail:
        md += ["", "## Failures", "", "```", *fail, "```"]
    out_dir.mkdir(parents=True, exist_ok=True)  # a new --out-dir, not only the default
    (out_dir / "results.md").write_text("\n".join(md) + "\n")
    payload = {**meta, "results": [asdict(m) for m in results]}
    (out_dir / "results.json").write_text(json.dumps(payload, indent=2) + "\n")
    return text


# --------------------------------------------------------------------------- main


def selected_models(names: str) -> list[Model]:
    """Expand a comma-separated --models value into Model objects, in run order."""
    keys: list[str] = []
    for name in (n.strip() for n in names.split(",") if n.strip()):
        if name not in MODEL_GROUPS:
            raise SystemExit(f"unknown model {name!r}; choose from {', '.join(MODEL_GROUPS)}")
        keys += [k for k in MODEL_GROUPS[name] if k not in keys]
    return [MODELS[k] for k in MODELS if k in keys]


def plan(models: list[Model], peers: tuple[str, ...]) -> list[tuple[Model, str]]:
    """(model, package) pairs to measure: ours first, then the peers present.

    A present peer that cannot fit the model (``Model.unsupported``) gets an "n/a" row.
    """
    pairs = []
    for model in models:
        run_peers = [p for p in model.peers if p in peers]
        if model.key == "nested100k" and not run_peers:
            continue  # only there to compare with statsmodels
        cannot = [p for p, _ in model.unsupported if p in peers]
        pairs += [(model, OURS)] + [(model, p) for p in run_peers + cannot]
    return pairs


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--models",
        default="sleepstudy,nested,crossed,insteval,logistic,verbagg",
        help="comma-separated: " + ", ".join(MODEL_GROUPS),
    )
    p.add_argument("--reps", type=int, default=10, help="fits per small model (median)")
    p.add_argument("--no-peers", action="store_true", help="measure mixedmodels only")
    p.add_argument(
        "--bench-kit",
        type=Path,
        default=DEFAULT_KIT,
        help="directory with make_sim.py and lme4_perf.R",
    )
    p.add_argument("--data-dir", type=Path, default=DATA_DIR)
    p.add_argument(
        "--out-dir", type=Path, default=BENCH_DIR, help="where results.md and results.json go"
    )
    p.add_argument(
        "--timeout", type=float, default=1800.0, help="seconds before one measurement is killed"
    )
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each measurement, wait up to SECONDS for other programs to go quiet",
    )
    p.add_argument(
        "--blas-threads",
        type=int,
        metavar="N",
        help="set OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and MKL_NUM_THREADS to N in every "
        "measurement process (default: leave them as they are)",
    )
    p.add_argument(
        "--no-pin-source",
        action="store_true",
        help="import mixedmodels from src/ live instead of a copy taken at the start",
    )
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    args = parse_args(argv)
    if args.worker:
        return worker_main(args.worker)
    models = selected_models(args.models)
    kit = args.bench_kit.resolve()
    peers, missing = ((), {}) if args.no_peers else available_peers(kit)
    ctx = Context(
        args.data_dir.resolve(),
        kit,
        max(args.reps, 1),
        args.timeout,
        peers,
        wait_idle=args.wait_idle,
        blas_threads=args.blas_threads,
    )
    ensure_sleepstudy(ctx.data_dir)
    if any(m.csv in SIM_FILES for m in models):
        ensure_sim_data(ctx.data_dir, kit)
    for key, name in (("insteval", "InstEval"), ("verbagg", "VerbAgg")):
        if any(m.key == key for m in models):
            ensure_r_export(ctx.data_dir, name)
    source = source_state()
    with pinned_source(not args.no_pin_source) as pin:
        ctx.pythonpath = pin
        meta = run_metadata(ctx, missing, source)
        results = run_all(plan(models, peers), ctx)
    meta["source"]["end"] = source_state()
    print()
    print(write_reports(results, meta, args.out_dir))
    return 0


def run_metadata(ctx: Context, missing: dict[str, str], source: str) -> dict[str, Any]:
    """Where, when and with what the run happens."""
    return {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": package_versions(),
        "reps": ctx.reps,
        "peers": list(ctx.peers),
        "missing_peers": missing,
        "source": {"start": source, "pinned": ctx.pythonpath is not None},
        "thread_env": {k: v for k, v in ctx.child_env().items() if k.endswith("_NUM_THREADS")},
    }


def run_all(pairs: list[tuple[Model, str]], ctx: Context) -> list[Measurement]:
    """Measure every (model, package) pair in turn, reporting progress."""
    results = []
    for model, package in pairs:
        print(f"[{time.strftime('%H:%M:%S')}] {model.label}: {package} ...", flush=True)
        m = observed(package, model, ctx)
        print(
            f"    {m.status} {_fmt(m.seconds, '.3f')} s, peak {_fmt(m.peak_mb, '.0f')} MB",
            flush=True,
        )
        results.append(m)
    return results


if __name__ == "__main__":
    sys.exit(main())
