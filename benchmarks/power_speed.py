"""Power by simulation on sleepstudy ``Reaction ~ Days + (Days | Subject)``: 1,000
simulated data sets, each refitted and tested, side by side with the same loop in R
(lme4's ``simulate`` and ``refit`` with lmerTest's Satterthwaite test: what simr's
``powerSim`` runs for this model, simr itself not being packaged here).

Run: ``python benchmarks/power_speed.py [--sims 1000] [--no-r]``; prints seconds per
configuration and writes ``benchmarks/power_speed.md``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mixedmodels as mm

HERE = Path(__file__).resolve().parent

R_LOOP = r"""
suppressPackageStartupMessages({library(lme4); library(lmerTest)})
fit <- lme4::lmer(Reaction ~ Days + (Days | Subject), sleepstudy)
n <- as.integer(commandArgs(TRUE)[1])
beta <- fixef(fit); beta["Days"] <- 3
set.seed(1)
t0 <- proc.time()[["elapsed"]]
ys <- simulate(fit, nsim = n, newparams = list(beta = beta, theta = getME(fit, "theta"),
                                             sigma = sigma(fit)))
p <- vapply(ys, function(y) {
  m <- refit(fit, y)
  summary(as_lmerModLmerTest(m))$coefficients["Days", "Pr(>|t|)"]
}, numeric(1))
cat(sprintf("%.3f %.4f\n", proc.time()[["elapsed"]] - t0, mean(p < 0.05)))
"""


def _ours(n_sims: int, test: str, n_jobs: int) -> tuple[float, float]:
    fit = mm.lmm("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    t0 = time.perf_counter()
    result = mm.power(
        fit, "Days", value=3.0, n_sims=n_sims, test=test, seed=1, n_jobs=n_jobs, progress=False
    )
    return time.perf_counter() - t0, float(result.table["power"].iloc[0])


def _r(n_sims: int) -> tuple[float, float] | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as handle:
        handle.write(R_LOOP)
    try:
        out = subprocess.run(
            ["Rscript", handle.name, str(n_sims)], capture_output=True, text=True, check=True
        ).stdout.split()
    except subprocess.CalledProcessError as exc:
        print(exc.stderr, file=sys.stderr)
        return None
    finally:
        os.unlink(handle.name)
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=1000)
    parser.add_argument("--no-r", action="store_true")
    args = parser.parse_args()
    rows = []
    for test, jobs in (("satterthwaite", 1), ("satterthwaite", 2), ("z", 1), ("z", 2)):
        seconds, power = _ours(args.sims, test, jobs)
        rows.append((f"mixedmodels, {test}, n_jobs={jobs}", seconds, power))
        print(rows[-1], flush=True)
    if not args.no_r:
        r = _r(args.sims)
        if r is not None:
            rows.append(("R lme4 refit + lmerTest (Satterthwaite), 1 core", *r))
            print(rows[-1], flush=True)
    lines = [
        f"# Power by simulation: {args.sims} refits of sleepstudy",
        "",
        "`Reaction ~ Days + (Days | Subject)`, Days set to 3, alpha 0.05; seconds for the",
        "whole loop (simulate, refit, test), one run on this 2-core machine",
        f"(`python benchmarks/power_speed.py --sims {args.sims}`).",
        "",
        "| configuration | seconds | power |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {seconds:.2f} | {power:.3f} |" for name, seconds, power in rows]
    (HERE / "power_speed.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
