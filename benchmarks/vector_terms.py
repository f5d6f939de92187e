"""Vector-valued random-effect terms with many coefficients, and several overlapping
vector terms on few rows, side by side with lme4 (seconds and REML criterion).

With k coefficients in one term, theta has k (k + 1) / 2 entries; such fits are usually
singular (the groups cannot support a full k x k covariance), and the check of a
boundary optimum used to difference the criterion n^2 times: k = 20 took 239 s, 44,625
criteria, nearly all of them in the check. It now differences the analytic gradient.

Run: ``python benchmarks/vector_terms.py [--no-r]``; writes ``benchmarks/vector_terms.md``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import mixedmodels as mm

HERE = Path(__file__).resolve().parent
#: lme4 is stopped after this long (its derivative-free optimizers take long on 210 thetas).
R_SECONDS = 600

R_FIT = r"""
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
args <- commandArgs(TRUE)
d <- read.csv(args[1])
t0 <- proc.time()[["elapsed"]]
m <- lmer(as.formula(args[2]), d, control = lmerControl(calc.derivs = FALSE))
out <- list(seconds = proc.time()[["elapsed"]] - t0, reml = REMLcrit(m))
cat(toJSON(out, digits = NA, auto_unbox = TRUE))
"""


def vector_data(k: int, groups: int, size: int, seed: int = 1) -> tuple[pd.DataFrame, str]:
    """One term of ``k`` correlated-free coefficients, SD 0.3 each, residual SD 1."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), size)
    X = rng.normal(size=(g.size, k - 1))
    b = rng.normal(size=(groups, k)) * 0.3
    Z = np.column_stack([np.ones(g.size), X])
    y = 1 + 0.5 * X.sum(axis=1) + np.einsum("ij,ij->i", Z, b[g]) + rng.normal(size=g.size)
    data = pd.DataFrame(X, columns=[f"x{i}" for i in range(1, k)])
    data["y"], data["g"] = y, g
    terms = " + ".join(data.columns[: k - 1])
    return data, f"y ~ {terms} + ({terms} | g)"


def overlapping_data(seed: int = 5) -> pd.DataFrame:
    """120 rows, two crossed factors of 10 and 8 levels, two covariates."""
    rng = np.random.default_rng(seed)
    n = 120
    data = pd.DataFrame(
        {
            "a": rng.integers(0, 10, n),
            "b": rng.integers(0, 8, n),
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
        }
    )
    data["y"] = (
        data["x"]
        + rng.normal(size=n)
        + rng.normal(size=10)[data["a"]]
        + rng.normal(size=8)[data["b"]]
    )
    return data


def cases() -> list[tuple[str, pd.DataFrame, str]]:
    out = []
    for k, groups, size in ((5, 40, 20), (10, 60, 20), (14, 60, 20), (20, 100, 30)):
        data, formula = vector_data(k, groups, size)
        out.append((f"k = {k}, {groups} groups x {size}", data, formula))
    over = overlapping_data()
    for formula in (
        "y ~ x + z + (x + z | a) + (x + z | b) + (1 | a:b)",
        "y ~ x + z + (x + z | a) + (x | b) + (z | b)",
        "y ~ x + z + (1 + x | a) + (1 + z | a) + (x + z | b)",
    ):
        out.append(("120 rows, overlapping terms", over, formula))
    return out


def _lme4(data: pd.DataFrame, formula: str, folder: Path) -> dict[str, float] | None:
    if shutil.which("Rscript") is None:
        return None
    csv = folder / "data.csv"
    data.to_csv(csv, index=False)
    script = folder / "fit.R"
    script.write_text(R_FIT)
    try:
        out = subprocess.run(
            ["Rscript", str(script), str(csv), formula],
            capture_output=True,
            text=True,
            check=True,
            timeout=R_SECONDS,
        )
    except subprocess.TimeoutExpired:
        return {"seconds": float("inf"), "reml": float("nan")}
    except subprocess.CalledProcessError:
        return None
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-r", action="store_true")
    args = parser.parse_args()
    lines = [
        "# Vector-valued random-effect terms",
        "",
        "Seconds to fit by REML and the REML criterion, mixedmodels and lme4 1.1 (`lmer`,",
        "default optimizer, `calc.derivs = FALSE`) on the same data, one run on this 2-core",
        "machine (`python benchmarks/vector_terms.py`).",
        "",
        "| design | formula | theta | mixedmodels s | lme4 s | criterion (ours) | ours - lme4 |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name, data, formula in cases():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                fit = mm.lmm(formula, data)
                ours = time.perf_counter() - t0
            r = None if args.no_r else _lme4(data, formula, Path(tmp))
            shown = formula if len(formula) < 60 else formula[:57] + "..."
            r_s = "n/a" if r is None else f"{r['seconds']:.2f}"
            if r is not None and not np.isfinite(r["seconds"]):
                r_s = f"> {R_SECONDS}"
            diff = (
                "n/a"
                if r is None or not np.isfinite(r["reml"])
                else f"{fit.objective - r['reml']:.2g}"
            )
            lines.append(
                f"| {name} | `{shown}` | {len(fit.theta)} | {ours:.2f} | {r_s} | "
                f"{fit.objective:.4f} | {diff} |"
            )
            print(lines[-1], flush=True)
    (HERE / "vector_terms.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
