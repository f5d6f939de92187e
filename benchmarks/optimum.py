"""Does every mixedmodels fit reach the optimum? A simulation benchmark (issue 11).

Usage::

    python benchmarks/optimum.py                          # all designs, 200 seeds each
    python benchmarks/optimum.py --designs slope,boundary --seeds 50
    python benchmarks/optimum.py --no-lme4 --no-mixedlm   # ours and the multi-start only
    python benchmarks/optimum.py --write-fixture tests/reference/optimum_best.json

For each design of ``optimum_designs.py`` and each seed, the data set is fitted by
mixedmodels (``mm.lmm``), by mixedlm (``mixedlm.lmer``), by lme4 (``optimum_lme4.R``: the
default ``lmer`` fit and two tight refits, all data sets of a run in one R process per job)
and by a multi-start search on mixedmodels' own objective: ``mm.lmm(..., start=theta0)``
from lme4's theta, mixedlm's theta and ``--starts`` random thetas around them.

The best criterion of a data set is the lowest of lme4's, mixedlm's and the multi-start's
(REML criterion for REML fits, deviance for ML fits). Our fit is *above the optimum* when
``ours - best > 1e-6 * |best|``. A *false singular* fit is one we report singular although
the best optimum is interior: the smallest diagonal entry of its Lambda, with each term's
covariates centred and scaled to root mean square 1, is above 1e-3 (that scaling makes the
test the same for ``x`` and ``x + 2010``; lme4's ``isSingular`` reads the raw theta). The table
goes to stdout, ``optimum_results.md`` and ``optimum_results.json`` (every data set's
numbers). ``--write-fixture`` also writes the best external criterion (lme4 and mixedlm
only) per data set for ``tests/test_optimum.py``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import inspect
import json
import math
import multiprocessing as mp
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import optimum_designs as od  # noqa: E402

R_SCRIPT = ROOT / "tests" / "reference" / "optimum_lme4.R"
#: Relative excess over the best criterion above which a fit has not reached the optimum.
REL_TOL = 1e-6
#: lme4's isSingular tolerance on the diagonal of Lambda.
SINGULAR_TOL = 1e-4
#: The best optimum counts as interior when its smallest diagonal entry exceeds this.
INTERIOR_TOL = 1e-3
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class StartUnsupported(RuntimeError):
    """``mm.lmm`` has no ``start`` keyword yet."""


def excess(value: float | None, best: float) -> float | None:
    """How far ``value`` lies above ``best``, relative to ``|best|`` (None when missing)."""
    if value is None or not math.isfinite(value):
        return None
    return (value - best) / max(abs(best), 1e-300)


# --------------------------------------------------------------------------- Python fits


def _ours_fit(df: Any, formula: str, reml: bool, start: Any = None) -> dict[str, Any]:
    import mixedmodels as mm

    kwargs: dict[str, Any] = {"reml": reml}
    if start is not None:
        kwargs["start"] = np.asarray(start, dtype=float)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        try:
            fit = mm.lmm(formula, df, **kwargs)
        except Exception as exc:  # a failed fit is a result here, not a crash
            return {"error": f"{type(exc).__name__}: {exc}"}
        seconds = time.perf_counter() - t0
    info = fit.optinfo
    layout = getattr(fit, "_layout", None)
    lower = getattr(layout, "lower", None)
    return {
        "criterion": float(fit.objective),
        "theta": [float(t) for t in fit.theta],
        "singular": bool(fit.is_singular),
        "seconds": seconds,
        "converged": bool(info.converged),
        "evaluations": int(info.n_evaluations),
        "optimizer": str(info.optimizer),
        "message": str(info.message),
        "blocks": od.blocks_from_lower(lower) if lower is not None else None,
        "terms": _our_terms(fit),
        "warnings": sorted({f"{w.category.__name__}: {w.message}" for w in caught}),
    }


def _our_terms(fit: Any) -> list[list[Any]] | None:
    """Our random-effects terms in theta's order: [group, [column names]] each."""
    try:
        vc = fit.varcorr  # lme4's as.data.frame(VarCorr(.)): one row per variance, covariance
    except Exception:
        return None
    terms: list[list[Any]] = []
    for group, term1, term2 in zip(vc["group"], vc["term1"], vc["term2"], strict=True):
        if group == "Residual" or isinstance(term2, str):
            continue
        if not terms or terms[-1][0] != group:
            terms.append([group, []])
        terms[-1][1].append(term1)
    return terms


def _group_key(name: str, columns: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Match a term across packages: 'b:a' = 'a:b', 'g.1' = 'g', by factor and columns."""
    base = re.sub(r"\.\d+$", "", name)
    return tuple(sorted(base.split(":"))), tuple(columns)


def _mixedlm_fit(df: Any, formula: str, reml: bool, terms: Any) -> dict[str, Any]:
    import mixedlm

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        try:
            fit = mixedlm.lmer(formula, df, REML=reml)
        except Exception as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}
        seconds = time.perf_counter() - t0
    criterion = float(fit.REMLcrit()) if reml else float(fit.get_deviance())
    sigma2 = float(fit.get_sigma()) ** 2
    pieces: dict[Any, list[float]] = {}
    min_diag = math.inf
    for name, group in fit.VarCorr().groups.items():
        cov = np.asarray(group.cov, dtype=float).reshape(len(group.term_names), -1)
        theta = od.theta_from_cov(cov, math.sqrt(sigma2))
        pieces[_group_key(name, list(group.term_names))] = theta
        min_diag = min(min_diag, od.min_diagonal(theta, [len(group.term_names)]))
    # mixedlm orders terms as the formula does and each term's triangle row by row; put its
    # theta in lme4's order (ours) by matching the terms by factor and column names
    theta_lme4 = None
    if terms is not None:
        keys = [_group_key(g, cols) for g, cols in terms]
        if sorted(keys) == sorted(pieces):
            theta_lme4 = [t for key in keys for t in pieces[key]]
    return {
        "criterion": criterion,
        "theta": theta_lme4,
        "theta_native": [float(t) for t in fit.theta],
        "min_diag": min_diag,
        "singular": bool(fit.isSingular()),
        "seconds": seconds,
        "converged": bool(fit.converged),
        "evaluations": int(fit.function_evals),
        "warnings": sorted({f"{w.category.__name__}: {w.message}" for w in caught}),
    }


def _warm_up(use_mixedlm: bool) -> None:
    """Import and run each fitter once so that the timed fits do not include that."""
    df, formula, reml = od.make("slope", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _ours_fit(df, formula, reml)
        if use_mixedlm:
            _mixedlm_fit(df, formula, reml, None)


def fit_task(design: str, seed: int, use_mixedlm: bool) -> dict[str, Any]:
    """Worker: our fit and mixedlm's of one data set."""
    df, formula, reml = od.make(design, seed)
    ours = _ours_fit(df, formula, reml)
    out: dict[str, Any] = {"design": design, "seed": seed, "ours": ours}
    terms = od.theta_terms(formula, df)
    if ours.get("terms") is not None:
        keys = [_group_key(g, cols) for g, cols in ours["terms"]]
        if keys != [_group_key(g, cols) for g, cols in terms]:
            raise RuntimeError(f"{design} seed {seed}: our terms {ours['terms']} != {terms}")
    if use_mixedlm:
        out["mixedlm"] = _mixedlm_fit(df, formula, reml, ours.get("terms"))
    return out


def start_supported() -> bool:
    """Whether ``mm.lmm`` takes ``start=`` (being added on main)."""
    import mixedmodels as mm

    return "start" in inspect.signature(mm.lmm).parameters


def multistart_task(design: str, seed: int, starts: list[list[float]]) -> list[dict[str, Any]]:
    """Worker: our fits of one data set from each start (``mm.lmm(..., start=theta0)``)."""
    if not start_supported():
        raise StartUnsupported(
            "mixedmodels.lmm() has no `start` keyword yet (it is being added on main): "
            "merge main into this branch, or run with --no-multistart"
        )
    df, formula, reml = od.make(design, seed)
    out = []
    for theta0 in starts:
        res = _ours_fit(df, formula, reml, start=theta0)
        res.pop("terms", None)
        res["start"] = theta0
        out.append(res)
    return out


def starts_for(
    design: str,
    seed: int,
    blocks: list[int],
    named: dict[str, list[float] | None],
    references: list[list[float] | None],
    n_random: int,
) -> tuple[list[str], list[list[float]]]:
    """The multi-start's starting thetas: the named ones (lme4's, mixedlm's) and n_random
    random ones around all references (seeded by design and seed, so runs repeat)."""
    labels, starts = [], []
    n_theta = sum(k * (k + 1) // 2 for k in blocks)
    for label, theta in named.items():
        if theta is not None and len(theta) == n_theta:
            labels.append(label)
            starts.append([float(t) for t in theta])
    rng = np.random.default_rng([seed, zlib.crc32(design.encode()), 7])
    refs = [r for r in references if r is not None and len(r) == n_theta]
    for i, theta in enumerate(od.random_starts(blocks, refs, n_random, rng)):
        labels.append(f"random {i + 1}")
        starts.append(theta)
    return labels, starts


# --------------------------------------------------------------------------- lme4


def run_lme4(tasks: list[tuple[str, int]], jobs: int, rscript: str) -> dict[str, Any]:
    """lme4's fits of every data set: CSVs and manifests in a temp dir, ``jobs`` R processes."""
    results: dict[str, Any] = {}
    versions: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="optimum-lme4-") as tmp:
        chunks: list[list[str]] = [[] for _ in range(max(1, jobs))]
        for n, (design, seed) in enumerate(tasks):
            df, formula, reml = od.make(design, seed)
            key = f"{design}-{seed}"
            path = Path(tmp) / f"{key}.csv"
            df.to_csv(path, index=False)
            chunks[n % len(chunks)].append(
                f"{key}\t{path}\t{formula}\t{'TRUE' if reml else 'FALSE'}"
            )
        procs = []
        for c, rows in enumerate(chunks):
            if not rows:
                continue
            manifest = Path(tmp) / f"manifest{c}.tsv"
            manifest.write_text("id\tcsv\tformula\treml\n" + "\n".join(rows) + "\n")
            out = Path(tmp) / f"lme4_{c}.json"
            cmd = [rscript, str(R_SCRIPT), str(manifest), str(out)]
            procs.append((subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True), out))
        for proc, out in procs:
            _, err = proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"{R_SCRIPT.name} failed ({proc.returncode}):\n{err}")
            data = json.loads(out.read_text())
            versions = data["versions"]
            results.update(data["fits"] or {})
    for fits in results.values():
        if "lower" in fits:
            fits["lower"] = [float(v) for v in fits["lower"]]  # jsonlite writes -Inf as "-Inf"
    return {"versions": versions, "fits": results}


# --------------------------------------------------------------------------- analysis


def analyse(rec: dict[str, Any]) -> dict[str, Any]:
    """The verdict on one data set: best criterion, where it came from, our excess."""
    ours = rec["ours"]
    df, formula, _ = od.make(rec["design"], rec["seed"])
    terms = od.theta_terms(formula, df)
    candidates: dict[str, tuple[float, float | None]] = {}  # source -> (criterion, min diag)

    def diag(theta: list[float] | None) -> float | None:
        """How close a theta is to the boundary, in units that do not depend on the data's."""
        return None if theta is None else od.standardized_min_diagonal(theta, terms, df)

    def add(source: str, fit: dict[str, Any] | None, fallback: float | None = None) -> None:
        if not fit or fit.get("criterion") is None or not math.isfinite(fit["criterion"]):
            return
        min_diag = diag(fit.get("theta"))
        candidates[source] = (float(fit["criterion"]), fallback if min_diag is None else min_diag)

    lme4 = rec.get("lme4") or {}
    for name in ("default", "bobyqa", "restart"):
        add(f"lme4 {name}", lme4.get(name))
    ml = rec.get("mixedlm")
    if ml and "error" not in ml:
        add("mixedlm", ml, ml.get("min_diag"))  # its own units when its terms did not match
    external = {k: v for k, v in candidates.items()}
    for fit in rec.get("multistart") or []:
        add(f"multi-start {fit['label']}", fit)
    out: dict[str, Any] = {}
    if external:
        src = min(external, key=lambda k: external[k][0])
        out["best_external"] = external[src][0]
        out["best_external_source"] = src
        out["best_external_min_diag"] = external[src][1]
    if not candidates:
        return out
    src = min(candidates, key=lambda k: candidates[k][0])
    best, best_diag = candidates[src]
    out.update(best=best, best_source=src)
    if "error" in ours:
        out["ours_error"] = ours["error"]
        return out
    ours_diag = diag(ours["theta"])
    # the best optimum's theta: ours when nothing else is lower
    if ours["criterion"] <= best:
        best_diag = ours_diag
    rel = excess(ours["criterion"], best)
    out.update(
        excess=ours["criterion"] - best,
        rel_excess=rel,
        above=bool(rel is not None and rel > REL_TOL),
        ours_min_diag=ours_diag,
        best_min_diag=best_diag,
        ours_singular=ours["singular"],
        best_singular=bool(best_diag is not None and best_diag < SINGULAR_TOL),
        false_singular=bool(
            ours["singular"] and best_diag is not None and best_diag > INTERIOR_TOL
        ),
        missed_singular=bool(
            not ours["singular"] and best_diag is not None and best_diag < SINGULAR_TOL
        ),
    )
    for name, fit in (("lme4", lme4.get("default")), ("mixedlm", ml)):
        if fit and fit.get("criterion") is not None:
            out[f"{name}_rel_excess"] = excess(fit["criterion"], best)
    return out


def below_external(records: list[dict[str, Any]]) -> int:
    """Data sets where ours or the multi-start is below lme4's and mixedlm's best by more than
    1e-6 relative: our optimizer did better, or our criterion is wrong there."""
    n = 0
    for r in records:
        v = r["verdict"]
        if v.get("best_external") is not None and v.get("best") is not None:
            n += excess(v["best_external"], v["best"]) > REL_TOL  # type: ignore[operator]
    return n


def _median_ms(values: list[float]) -> float | None:
    return 1e3 * statistics.median(values) if values else None


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """One row of the table: a design's counts, worst excess and median times."""
    verdicts = [r["verdict"] for r in records]
    scored = [v for v in verdicts if "rel_excess" in v]
    worst = max(scored, key=lambda v: v["excess"], default=None)
    worst_rec = next((r for r in records if r["verdict"] is worst), None)

    def times(get: Any) -> list[float]:
        out = []
        for r in records:
            fit = get(r)
            if fit and fit.get("seconds") is not None:
                out.append(float(fit["seconds"]))
        return out

    def share_above(key: str) -> float | None:
        vals = [v[key] for v in verdicts if v.get(key) is not None]
        return sum(x > REL_TOL for x in vals) / len(vals) if vals else None

    return {
        "sets": len(records),
        "below_external": below_external(records),
        "scored": len(scored),
        "errors": sum("ours_error" in v for v in verdicts),
        "above": sum(v["above"] for v in scored),
        "share_above": sum(v["above"] for v in scored) / len(scored) if scored else None,
        "worst_excess": worst["excess"] if worst else None,
        "worst_rel_excess": worst["rel_excess"] if worst else None,
        "worst_seed": worst_rec["seed"] if worst_rec else None,
        "false_singular": sum(v["false_singular"] for v in scored),
        "true_singular": sum(v["ours_singular"] and v["best_singular"] for v in scored),
        "best_singular": sum(v["best_singular"] for v in scored),
        "missed_singular": sum(v["missed_singular"] for v in scored),
        "lme4_share_above": share_above("lme4_rel_excess"),
        "mixedlm_share_above": share_above("mixedlm_rel_excess"),
        "ms_ours": _median_ms(times(lambda r: r["ours"])),
        "ms_lme4": _median_ms(times(lambda r: (r.get("lme4") or {}).get("default"))),
        "ms_mixedlm": _median_ms(times(lambda r: r.get("mixedlm"))),
    }


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


COLUMNS = (
    "design",
    "sets",
    "above",
    "worst excess (rel)",
    "false sing.",
    "true sing. / best sing.",
    "missed sing.",
    "below lme4+mixedlm",
    "lme4 above",
    "mixedlm above",
    "ms ours / lme4 / mixedlm",
)


def table_rows(summary: dict[str, dict[str, Any]]) -> list[list[str]]:
    rows = []
    for design, s in summary.items():
        above = "-" if s["share_above"] is None else f"{s['above']} ({100 * s['share_above']:.1f}%)"
        if s["errors"]:
            above += f", {s['errors']} errors"
        worst = "-"
        if s["worst_excess"] is not None:
            worst = f"{s['worst_excess']:.3g} ({s['worst_rel_excess']:.1e}), seed {s['worst_seed']}"
        rows.append(
            [
                design,
                str(s["sets"]),
                above,
                worst,
                str(s["false_singular"]),
                f"{s['true_singular']} / {s['best_singular']}",
                str(s["missed_singular"]),
                str(s.get("below_external", "-")),
                _fmt(None if s["lme4_share_above"] is None else 100 * s["lme4_share_above"], ".1f")
                + ("%" if s["lme4_share_above"] is not None else ""),
                _fmt(
                    None if s["mixedlm_share_above"] is None else 100 * s["mixedlm_share_above"],
                    ".1f",
                )
                + ("%" if s["mixedlm_share_above"] is not None else ""),
                " / ".join(_fmt(s[k], ".0f") for k in ("ms_ours", "ms_lme4", "ms_mixedlm")),
            ]
        )
    return rows


def markdown_table(summary: dict[str, dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(summary)]
    return "\n".join(lines)


def plain_table(summary: dict[str, dict[str, Any]]) -> str:
    rows = [list(COLUMNS)] + table_rows(summary)
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def worst_cases(records: list[dict[str, Any]], n: int = 5) -> list[str]:
    """The data sets we fit furthest above the best criterion, for the report."""
    scored = [r for r in records if r["verdict"].get("above")]
    scored.sort(key=lambda r: -r["verdict"]["excess"])
    lines = []
    for r in scored[:n]:
        v = r["verdict"]
        df, formula, reml = od.make(r["design"], r["seed"])
        kind = df.attrs["truth"].get("kind")
        lines.append(
            f"`{r['design']}` seed {r['seed']} ({formula}, {'REML' if reml else 'ML'}"
            + (f", {kind}" if kind else "")
            + f", {len(df)} rows): ours {r['ours']['criterion']:.6f}, best {v['best']:.6f} "
            f"({v['best_source']}), excess {v['excess']:.3g}"
            + (", reported singular" if r["ours"]["singular"] else "")
        )
    return lines


# --------------------------------------------------------------------------- fixture


def write_fixture(path: Path, records: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    """The best external criterion of every data set, with lme4's theta, for the tests."""
    designs: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        v = r["verdict"]
        lme4 = r.get("lme4") or {}
        if "best_external" not in v or "best" not in lme4:
            raise RuntimeError(f"{r['design']} seed {r['seed']}: no lme4 fit for the fixture")
        min_diag = v["best_external_min_diag"]
        df, _, _ = od.make(r["design"], r["seed"])
        designs.setdefault(r["design"], []).append(
            {
                "seed": r["seed"],
                # a fingerprint of the data: the test notices when the generator has changed
                "nrows": len(df),
                "ysum": float(f"{df['y'].sum():.12g}"),
                "best": v["best_external"],
                "source": v["best_external_source"],
                "min_diag": None if min_diag is None else float(f"{min_diag:.6g}"),
                "blocks": r["blocks"],
                "lme4_theta": [float(f"{t:.10g}") for t in lme4["best"]["theta"]],
            }
        )
    header = {
        "description": (
            "Best EXTERNAL criterion (REML criterion for REML fits, deviance for ML fits) of "
            "every simulated data set of benchmarks/optimum_designs.py: the lowest of lme4's "
            "default lmer fit, its two tight refits (tests/reference/optimum_lme4.R) and "
            "mixedlm's lmer. min_diag is the smallest diagonal entry of Lambda at that fit "
            "with each term's covariates centred and scaled to RMS 1 "
            "(optimum_designs.standardized_min_diagonal; below 1e-4: on the boundary, above "
            "1e-3: interior), blocks the coefficients per term in theta's "
            "order, lme4_theta the theta of lme4's best fit, nrows and ysum a fingerprint "
            "of the data, which the test regenerates from design and seed."
        ),
        **meta,
    }
    text = json.dumps({"header": header, "designs": {}}, indent=1)
    # one line per data set keeps the file short and its diffs readable
    body = ",\n".join(
        f'  "{d}": [\n' + ",\n".join("   " + json.dumps(e) for e in entries) + "\n  ]"
        for d, entries in designs.items()
    )
    text = text[: text.rindex('"designs"')] + '"designs": {\n' + body + "\n }\n}\n"
    json.loads(text)
    path.write_text(text)


# --------------------------------------------------------------------------- driver


def _versions(lme4_versions: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"python": platform.python_version()}
    for pkg in ("mixedmodels", "mixedlm", "numpy", "scipy", "pandas"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    import mixedmodels

    out["mixedmodels_path"] = str(Path(mixedmodels.__file__).parent)
    try:
        out["git"] = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        out["git"] = None
    out.update({f"lme4_{k}": v for k, v in lme4_versions.items()})
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--designs", default=",".join(od.DESIGNS), help="comma-separated designs")
    p.add_argument("--seeds", type=int, default=200, help="seeds per design (default 200)")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--starts", type=int, default=6, help="random starts (default 6)")
    p.add_argument("--no-lme4", action="store_true")
    p.add_argument("--no-mixedlm", action="store_true")
    p.add_argument("--no-multistart", action="store_true")
    p.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    p.add_argument("--rscript", default="Rscript")
    p.add_argument("--out-dir", type=Path, default=BENCH_DIR)
    p.add_argument("--write-fixture", type=Path, default=None, metavar="PATH")
    p.add_argument(
        "--markdown-from",
        type=Path,
        default=None,
        metavar="JSON",
        help="only rewrite optimum_results.md (in --out-dir) from a results file",
    )
    args = p.parse_args(argv)
    args.designs = [d.strip() for d in args.designs.split(",") if d.strip()]
    unknown = [d for d in args.designs if d not in od.DESIGNS]
    if unknown:
        p.error(f"unknown designs {unknown}; known: {', '.join(od.DESIGNS)}")
    if args.write_fixture and (args.no_lme4 or args.no_mixedlm):
        p.error("--write-fixture needs lme4 and mixedlm")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.markdown_from:
        saved = json.loads(args.markdown_from.read_text())
        for design, row in saved["summary"].items():
            row["below_external"] = below_external(
                [r for r in saved["records"] if r["design"] == design]
            )
        text = markdown_report(saved["summary"], saved["records"], saved["meta"])
        args.out_dir.mkdir(parents=True, exist_ok=True)
        (args.out_dir / "optimum_results.md").write_text(text)
        return 0
    for var in THREAD_VARS:  # one BLAS thread per process: --jobs processes share the cores
        os.environ.setdefault(var, "1")
    if not args.no_multistart and not start_supported():
        print(
            "error: mixedmodels.lmm() has no `start` keyword yet, which the multi-start "
            "search needs (it is being added on main; merge main into this branch), or run "
            "with --no-multistart",
            file=sys.stderr,
        )
        return 2
    tasks = [
        (d, s) for d in args.designs for s in range(args.first_seed, args.first_seed + args.seeds)
    ]
    t_start = time.perf_counter()
    timings: dict[str, float] = {}

    lme4: dict[str, Any] = {"versions": {}, "fits": {}}
    if not args.no_lme4:
        t0 = time.perf_counter()
        print(f"lme4: {len(tasks)} data sets in {args.jobs} R processes ...", flush=True)
        lme4 = run_lme4(tasks, args.jobs, args.rscript)
        timings["lme4"] = time.perf_counter() - t0

    ctx = mp.get_context("spawn")
    records: dict[tuple[str, int], dict[str, Any]] = {}
    t0 = time.perf_counter()
    print(f"mixedmodels{'' if args.no_mixedlm else ' and mixedlm'} ...", flush=True)
    with cf.ProcessPoolExecutor(
        args.jobs, mp_context=ctx, initializer=_warm_up, initargs=(not args.no_mixedlm,)
    ) as pool:
        futures = [pool.submit(fit_task, d, s, not args.no_mixedlm) for d, s in tasks]
        for fut in cf.as_completed(futures):
            rec = fut.result()
            records[(rec["design"], rec["seed"])] = rec
    timings["python_fits"] = time.perf_counter() - t0

    for (design, seed), rec in records.items():
        fits = lme4["fits"].get(f"{design}-{seed}")
        rec["lme4"] = fits
        lower = (fits or {}).get("lower")
        df, formula, _ = od.make(design, seed)
        rec["blocks"] = [len(cols) for _, cols in od.theta_terms(formula, df)]
        if lower and od.blocks_from_lower(lower) != rec["blocks"]:
            raise RuntimeError(f"{design} seed {seed}: lme4's theta has other terms ({lower})")

    if not args.no_multistart:
        t0 = time.perf_counter()
        print(f"multi-start ({args.starts} random starts + lme4's + mixedlm's) ...", flush=True)
        jobs = {}
        with cf.ProcessPoolExecutor(args.jobs, mp_context=ctx) as pool:
            for key, rec in records.items():
                if not rec["blocks"]:
                    continue
                ml = rec.get("mixedlm") or {}
                lme4_theta = ((rec.get("lme4") or {}).get("best") or {}).get("theta")
                labels, starts = starts_for(
                    *key,
                    rec["blocks"],
                    {"lme4": lme4_theta, "mixedlm": ml.get("theta")},
                    [rec["ours"].get("theta"), lme4_theta, ml.get("theta")],
                    args.starts,
                )
                jobs[pool.submit(multistart_task, *key, starts)] = (key, labels)
            for fut in cf.as_completed(jobs):
                key, labels = jobs[fut]
                fits = fut.result()
                for label, fit in zip(labels, fits, strict=True):
                    fit["label"] = label
                records[key]["multistart"] = fits
        timings["multistart"] = time.perf_counter() - t0
    timings["total"] = time.perf_counter() - t_start
    loads = os.getloadavg()  # 1, 5 and 15 minutes: other programs slow the timings down

    ordered = [records[k] for k in tasks]
    for rec in ordered:
        rec["verdict"] = analyse(rec)
    summary = {d: summarise([r for r in ordered if r["design"] == d]) for d in args.designs}
    versions = _versions(lme4["versions"])
    command = "python benchmarks/optimum.py " + shlex.join(
        argv if argv is not None else sys.argv[1:]
    )
    meta = {
        "generated": dt.datetime.now().isoformat(timespec="seconds"),
        "command": command.strip(),
        "seeds": [args.first_seed, args.first_seed + args.seeds],
        "random_starts": 0 if args.no_multistart else args.starts,
        "versions": versions,
        "seconds": {k: round(v, 1) for k, v in timings.items()},
        "jobs": args.jobs,
        "load": " / ".join(f"{x:.2f}" for x in loads),
        "peers": [p for p, off in (("lme4", args.no_lme4), ("mixedlm", args.no_mixedlm)) if not off]
        + ([] if args.no_multistart else ["multi-start"]),
    }
    print()
    print(plain_table(summary))
    print()
    print("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()))
    write_reports(args.out_dir, summary, ordered, meta)
    if args.write_fixture:
        write_fixture(args.write_fixture, ordered, meta)
        print(f"fixture: {args.write_fixture}")
    return 0


def write_reports(
    out_dir: Path, summary: dict[str, Any], records: list[dict[str, Any]], meta: dict[str, Any]
) -> None:
    """optimum_results.md and optimum_results.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "optimum_results.md").write_text(markdown_report(summary, records, meta))
    payload = {"meta": meta, "summary": summary, "records": [compact(r) for r in records]}
    text = json.dumps(payload, indent=None, separators=(",", ":"), default=float)
    (out_dir / "optimum_results.json").write_text(text + "\n")


def markdown_report(
    summary: dict[str, Any], records: list[dict[str, Any]], meta: dict[str, Any]
) -> str:
    """The report: how it was made, the table, the definitions, the worst and failed fits.
    ``records`` may be full or as ``compact`` keeps them."""
    v = meta["versions"]
    best_of = ", ".join(meta["peers"]) or "nothing (ours only)"
    md = [
        "# Do mixedmodels' fits reach the optimum?",
        "",
        f"`{meta['command']}`, {meta['generated']}, seeds {meta['seeds'][0]} to "
        f"{meta['seeds'][1] - 1} of each design; {meta['seconds'].get('total', 0):.0f} s in all.",
        "",
        f"mixedmodels {v.get('mixedmodels')} ({v.get('git')}, {v.get('mixedmodels_path')}), "
        f"mixedlm {v.get('mixedlm')}, {v.get('lme4_R', 'R not run')}, lme4 "
        f"{v.get('lme4_lme4', '-')}, numpy {v.get('numpy')}, scipy {v.get('scipy')}.",
        "",
        f"The best criterion of a data set is the lowest of {best_of}"
        + (
            " (lme4: default lmer, a bobyqa refit with rhoend 1e-10 and a Nelder-Mead restart)"
            if "lme4" in meta["peers"]
            else ""
        )
        + (
            "; the multi-start refits ours with mm.lmm(start=...) from lme4's and mixedlm's "
            f"theta and {meta['random_starts']} random thetas around them"
            if "multi-start" in meta["peers"]
            else "; no multi-start"
        )
        + ". REML criterion for REML fits, deviance for ML fits (one seed in four). Fits "
        f"run in {meta['jobs']} processes at once; the machine's load average was "
        f"{meta['load']} (1, 5 and 15 minutes) when it ended.",
        "",
        markdown_table(summary),
        "",
        "- **above**: data sets where ours - best > 1e-6 |best|.",
        "- **worst excess**: the largest ours - best (relative excess in brackets).",
        "- **false sing.**: we report a singular fit, but the best optimum is interior: the "
        "smallest diagonal entry of its Lambda exceeds 1e-3, with each term's covariates "
        "centred and scaled to root mean square 1 (so that `x` and `x + 2010` are judged "
        "alike; lme4's `isSingular` reads the raw theta, which for `x * 1e3` or years is "
        "small or large because of the units).",
        "- **true sing. / best sing.**: we report singular and the best optimum is singular "
        "(that smallest diagonal < 1e-4, lme4's tolerance) / data sets whose best optimum is "
        "singular.",
        "- **missed sing.**: the best optimum is singular, our fit is not reported so.",
        "- **below lme4+mixedlm**: data sets where our fit or the multi-start ends more than "
        "1e-6 (relative) below the best of lme4 and mixedlm: our optimizer did better, or our "
        "criterion is wrong there (with main before its WeightedGram fix, `nested` had such "
        "false optima at a zero variance).",
        "- **lme4 above**, **mixedlm above**: the same test for lme4's default fit and mixedlm.",
        "- **ms**: median seconds x 1000 of one fit (lme4: the default lmer call, timed in R).",
        "",
    ]
    worst = [
        line for d in summary for line in worst_cases([r for r in records if r["design"] == d])
    ]
    if worst:
        md += ["## Furthest above the optimum", ""] + [f"- {line}" for line in worst] + [""]
    failed = [r for r in records if r["ours"].get("error")]
    if failed:
        md += ["## Fits that failed", ""]
        for r in failed:
            _, formula, reml = od.make(r["design"], r["seed"])
            md.append(
                f"- `{r['design']}` seed {r['seed']} ({formula}, {'REML' if reml else 'ML'}): "
                f"{r['ours']['error']}"
            )
        md.append("")
    return "\n".join(md)


def _round(value: Any, digits: int = 10) -> Any:
    """Numbers to ``digits`` significant digits (keeps the results file small), criteria
    to 13."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}") if math.isfinite(value) else str(value)
    if isinstance(value, list):
        return [_round(v, digits) for v in value]
    if isinstance(value, dict):
        return {k: _round(v, 13 if k in CRITERION_KEYS else digits) for k, v in value.items()}
    return value


VERDICT_KEYS = (
    "best",
    "best_source",
    "best_external",
    "excess",
    "above",
    "best_min_diag",
    "false_singular",
    "ours_error",
)
#: Criteria keep 13 significant digits (the test is on 1e-6 relative differences), the rest 8.
CRITERION_KEYS = ("criterion", "best", "best_external", "excess")


def compact(rec: dict[str, Any]) -> dict[str, Any]:
    """What the results file keeps of one data set (thetas to 8 digits): our
    fit, mixedlm's, lme4's default and best, the multi-start's lowest, and the verdict."""

    def fit(f: dict[str, Any] | None, keys: tuple[str, ...]) -> dict[str, Any] | None:
        if not f:
            return None
        return {k: f[k] for k in keys + ("error",) if f.get(k) is not None}

    ours = rec["ours"]
    out: dict[str, Any] = {"design": rec["design"], "seed": rec["seed"]}
    keys = ("criterion", "theta", "singular", "seconds", "evaluations")
    out["ours"] = fit(ours, keys + (() if ours.get("converged", True) else ("message",)))
    out["mixedlm"] = fit(rec.get("mixedlm"), ("criterion", "theta", "singular", "seconds"))
    lme4 = rec.get("lme4") or {}
    if lme4:
        out["lme4"] = {
            "default": fit(lme4.get("default"), ("criterion", "singular", "seconds")),
            "lowest": fit(lme4.get("best"), ("fit", "criterion", "theta")),
        }
    starts = rec.get("multistart")
    if starts:
        ok = [f for f in starts if f.get("criterion") is not None]
        low = min(ok, key=lambda f: f["criterion"], default=None)
        out["multistart"] = {
            "starts": len(starts),
            "failed": len(starts) - len(ok),
            "lowest": fit(low, ("label", "criterion", "theta")),
        }
    out["verdict"] = {k: v for k, v in rec["verdict"].items() if k in VERDICT_KEYS}
    for f in (out["ours"], out["mixedlm"], (out.get("lme4") or {}).get("default")):
        if f and "seconds" in f:
            f["seconds"] = float(f"{f['seconds']:.3g}")
    return _round(out, 8)  # type: ignore[no-any-return]


if __name__ == "__main__":
    sys.exit(main())
