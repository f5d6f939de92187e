"""Crossed random effects with AR(1) residuals side by side: mixedmodels
(``mm.lmm(..., correlation=mm.corAR1(form="~ trial | subject"))``) and glmmTMB, which
states the model as ``ar1(trialf + 0 | subject)`` with ``dispformula = ~ 0`` (issue 14).
nlme cannot cross the factors, and lme4 has no residual structures.

Usage::

    python benchmarks/crossed_ar1_speed.py                      # 100 subjects x 50 items x 2
    python benchmarks/crossed_ar1_speed.py --subjects 200 --items 100

The data are those of ``tests/reference/crossed_ar1_data.py`` (each subject sees every
item ``reps`` times in its own random order; AR(1) residuals in trial order, Phi = 0.6),
seed 2026. The model ``y ~ x + (1 + x | subject) + (1 | item)``, REML, one fit per
program in a fresh process; times are the fit alone, peak memory the process's maximum
resident set. The table goes to stdout and to ``benchmarks/crossed_ar1_speed.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import textwrap
from pathlib import Path

from _fresh import measure

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "tests" / "reference"))
from crossed_ar1_data import simulate  # noqa: E402

TAG = "CROSSED-AR1 "
FORMULA = "y ~ x + (1 + x | subject) + (1 | item)"

OURS = textwrap.dedent(
    f"""
    import json, sys, time, warnings
    import pandas as pd
    import mixedmodels as mm
    data = pd.read_csv(sys.argv[1])
    ar1 = mm.corAR1(form="~ trial | subject")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mm.lmm("{FORMULA}", data.head(400), correlation=ar1)  # warm-up
    t = time.perf_counter()
    fit = mm.lmm("{FORMULA}", data, correlation=ar1)
    seconds = time.perf_counter() - t
    print("{TAG}" + json.dumps({{"seconds": seconds, "loglik": fit.loglik,
          "phi": fit.correlation_params["Phi"], "beta": list(map(float, fit.beta)),
          "sigma": fit.sigma}}))
    """
)

R_SCRIPT = textwrap.dedent(
    """
    suppressMessages({library(glmmTMB); library(jsonlite)})
    args <- commandArgs(trailingOnly = TRUE)
    d <- read.csv(args[1]); d$trialf <- factor(d$trial)
    t <- system.time(m <- glmmTMB(
      y ~ x + (1 + x | subject) + (1 | item) + ar1(trialf + 0 | subject),
      data = d, dispformula = ~ 0, REML = TRUE))[["elapsed"]]
    ar <- VarCorr(m)$cond[["subject.1"]]
    res <- list(seconds = t, loglik = as.numeric(logLik(m)),
                phi = attr(ar, "correlation")[1, 2], beta = unname(fixef(m)$cond),
                sigma = unname(attr(ar, "stddev")[1]), convergence = m$fit$convergence)
    cat("CROSSED-AR1", toJSON(res, auto_unbox = TRUE, digits = NA), "\\n")
    """
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=100)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--programs", default="mixedmodels,glmmTMB")
    parser.add_argument("--out", default=str(BENCH / "crossed_ar1_speed.md"))
    args = parser.parse_args()
    data = simulate(args.subjects, args.items, args.reps, 0.6, 2026)
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "crossed.csv"
        data.to_csv(csv, index=False)
        r_file = Path(tmp) / "crossed.R"
        r_file.write_text(R_SCRIPT)
        results = {}
        for program in args.programs.split(","):
            if program == "mixedmodels":
                command = [sys.executable, "-c", OURS, str(csv)]
            else:
                command = ["Rscript", str(r_file), str(csv)]
            results[program] = measure(command, TAG)
            print(program, results[program], flush=True)
    ours = results.get("mixedmodels")
    lines = [
        f"# Crossed random effects with AR(1) residuals, {len(data):,} rows",
        "",
        f"`python benchmarks/crossed_ar1_speed.py --subjects {args.subjects} --items "
        f"{args.items} --reps {args.reps}` on {platform.machine()}, {os.cpu_count()} cores; "
        f"{args.subjects} subjects x {args.items} items, each item {args.reps} times a "
        f"subject ({args.items * args.reps} trials in time order). `{FORMULA}`, AR(1) "
        "residuals within subjects, REML; one fit per program, each in a fresh process, one "
        "after the other (glmmTMB: `ar1(trialf + 0 | subject)`, `dispformula = ~ 0`).",
        "",
        "| program | fit s | vs mixedmodels | logLik | Phi | beta | sigma | peak MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for program, r in results.items():
        ratio = f"{r['seconds'] / ours['seconds']:.1f}x slower" if ours and r is not ours else "1"
        beta = ", ".join(f"{b:.5f}" for b in r["beta"])
        note = " (false convergence)" if r.get("convergence", 0) else ""
        lines.append(
            f"| {program} | {r['seconds']:.2f} | {ratio} | {r['loglik']:.4f}{note} | "
            f"{r['phi']:.5f} | {beta} | {r['sigma']:.5f} | {r['peak_mb']:.0f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
