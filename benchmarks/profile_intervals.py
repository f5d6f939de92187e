"""Profile-likelihood intervals beside lme4's ``confint(method = "profile")``, in one run.

Run ``python benchmarks/profile_intervals.py``. For each model, lme4 fits and profiles in
one ``Rscript`` process (the profile alone timed with ``system.time``), and mixedmodels in
this process (the profile alone timed, after a warm-up profile of Dyestuff so imports are
not counted). The output is a markdown table of seconds and of the largest difference
between the two sets of interval ends, relative to each interval's width.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import time
import warnings

import numpy as np

import mixedmodels as mm

MODELS = (
    ("sleepstudy", "Reaction ~ Days + (Days | Subject)", "lme4"),
    ("Dyestuff", "Yield ~ 1 + (1 | Batch)", "lme4"),
    ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", "lme4"),
)

R_SCRIPT = r"""
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
data(list = args[1], package = args[3])
m <- lmer(as.formula(args[2]), get(args[1]))
t <- system.time(ci <- suppressWarnings(confint(m, method = "profile")))[["elapsed"]]
cat(jsonlite::toJSON(list(seconds = jsonlite::unbox(t), lower = unname(ci[, 1]),
                         upper = unname(ci[, 2])),
                     digits = 15), "\n")
"""


def lme4_profile(dataset: str, formula: str, package: str) -> dict[str, object] | None:
    """lme4's seconds and interval ends, or None without Rscript."""
    if shutil.which("Rscript") is None:
        return None
    out = subprocess.run(
        ["Rscript", "-e", R_SCRIPT, dataset, formula, package],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def ours(dataset: str, formula: str) -> tuple[float, np.ndarray, np.ndarray]:
    """mixedmodels' seconds and interval ends (lme4's order)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = mm.lmm(formula, mm.datasets.load(dataset))
        start = time.perf_counter()
        ci = fit.confint("profile")
        seconds = time.perf_counter() - start
    return seconds, ci["lower"].to_numpy(), ci["upper"].to_numpy()


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    ours("Dyestuff", "Yield ~ 1 + (1 | Batch)")  # warm-up
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"confint(method = 'profile'), 95 %; {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {load:.2f} at the start\n"
    )
    print("| model | mixedmodels s | lme4 s | lme4 / ours | largest end difference / width |")
    print("|---|---:|---:|---:|---:|")
    for dataset, formula, package in MODELS:
        seconds, lower, upper = ours(dataset, formula)
        ref = lme4_profile(dataset, formula, package)
        if ref is None:
            print(f"| {dataset} | {seconds:.2f} | n/a | | |")
            continue
        r_lower = np.asarray(ref["lower"], dtype=float)
        r_upper = np.asarray(ref["upper"], dtype=float)
        width = r_upper - r_lower
        diff = np.max(np.maximum(np.abs(lower - r_lower), np.abs(upper - r_upper)) / width)
        r_seconds = float(ref["seconds"])  # type: ignore[arg-type]
        print(
            f"| {dataset} `{formula}` | {seconds:.2f} | {r_seconds:.2f} | "
            f"{r_seconds / seconds:.1f} | {diff:.1e} |"
        )


if __name__ == "__main__":
    main()
