"""Profile-likelihood intervals beside lme4's ``confint(method = "profile")``, in one run:
LMMs and GLMMs (``glmer``; binomial, with lme4's default fit).

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
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import mixedmodels as mm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from lme4_reference import load_data  # noqa: E402

# data set, formula, R package of the data, family ("" for an LMM)
MODELS = (
    ("sleepstudy", "Reaction ~ Days + (Days | Subject)", "lme4", ""),
    ("Dyestuff", "Yield ~ 1 + (1 | Batch)", "lme4", ""),
    ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", "lme4", ""),
    ("cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "lme4", "binomial"),
    ("Contraception", "use ~ age + urban + (1 | district)", "mlmRev", "binomial"),
    ("Contraception", "use ~ age + urban + (urban | district)", "mlmRev", "binomial"),
)

R_SCRIPT = r"""
suppressMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
data(list = args[1], package = args[3])
m <- if (length(args) > 3 && nzchar(args[4])) {
  glmer(as.formula(args[2]), get(args[1]), family = args[4])
} else lmer(as.formula(args[2]), get(args[1]))
t <- system.time(ci <- suppressWarnings(confint(m, method = "profile")))[["elapsed"]]
cat(jsonlite::toJSON(list(seconds = jsonlite::unbox(t), lower = unname(ci[, 1]),
                         upper = unname(ci[, 2])),
                     digits = 15), "\n")
"""


def lme4_profile(dataset: str, formula: str, package: str, family: str) -> dict[str, object] | None:
    """lme4's seconds and interval ends, or None without Rscript."""
    if shutil.which("Rscript") is None:
        return None
    out = subprocess.run(
        ["Rscript", "-e", R_SCRIPT, dataset, formula, package, family],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def _data(dataset: str) -> pd.DataFrame:
    if dataset in mm.datasets.names():
        return mm.datasets.load(dataset)
    return load_data(dataset)  # tests/reference/data, exported from R


def ours(dataset: str, formula: str, family: str = "") -> tuple[float, np.ndarray, np.ndarray]:
    """mixedmodels' seconds and interval ends (lme4's order)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = _data(dataset)
        fit = mm.glmm(formula, data, family=family) if family else mm.lmm(formula, data)
        start = time.perf_counter()
        ci = fit.confint(method="profile")
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
    for dataset, formula, package, family in MODELS:
        seconds, lower, upper = ours(dataset, formula, family)
        ref = lme4_profile(dataset, formula, package, family)
        if ref is None:
            print(f"| {dataset} | {seconds:.2f} | n/a | | |")
            continue
        r_lower = np.asarray(ref["lower"], dtype=float)
        r_upper = np.asarray(ref["upper"], dtype=float)
        width = r_upper - r_lower
        diff = np.max(np.maximum(np.abs(lower - r_lower), np.abs(upper - r_upper)) / width)
        r_seconds = float(ref["seconds"])  # type: ignore[arg-type]
        shown = formula.replace("|", "\\|")  # a table cell
        print(
            f"| {dataset} `{shown}` | {seconds:.2f} | {r_seconds:.2f} | "
            f"{r_seconds / seconds:.1f} | {diff:.1e} |"
        )


if __name__ == "__main__":
    main()
