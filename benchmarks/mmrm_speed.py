"""An unstructured MMRM side by side: mixedmodels (``mm.mmrm``), R's mmrm and nlme's
``gls`` with ``corSymm`` + ``varIdent`` (the same model), each fit in a fresh process
(issue 14).

Usage::

    python benchmarks/mmrm_speed.py                           # 10,000 subjects x 10 visits
    python benchmarks/mmrm_speed.py --subjects 2000 --programs mixedmodels,mmrm

The data: two arms, ``y = 1 + 0.5 arm + 0.2 visit + 0.3 arm:visit + 0.4 x + e_i`` with a
subject's ``e_i`` normal with covariance ``Sigma_jk = s_j s_k 0.7^|j-k|^0.5`` (SDs rising
from 1 to 2 over the visits), 10 % of the visits after the first missing at random; seed
2026. Every program fits ``y ~ arm * visit + x`` with an unstructured covariance by REML;
times are the fit alone (data read before the clock starts; for us and mmrm the REML fit
without the df computation, which mmrm does lazily as well). The table goes to stdout and
to ``benchmarks/mmrm_speed.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from _fresh import measure

BENCH = Path(__file__).resolve().parent
TAG = "MMRM-RESULT "

OURS = textwrap.dedent(
    """
    import json, sys, time
    import pandas as pd
    import mixedmodels as mm
    data = pd.read_csv(sys.argv[1])
    for c in ("subj", "visit", "arm"):
        data[c] = data[c].astype(str)
    formula = "y ~ arm * visit + x + us(visit | subj)"
    mm.mmrm(formula, data.head(400))  # warm-up
    t = time.perf_counter()
    fit = mm.mmrm(formula, data)
    seconds = time.perf_counter() - t
    print("MMRM-RESULT " + json.dumps({"seconds": seconds, "loglik": fit.loglik,
          "beta_arm": float(fit.fixef["arm[T.b]"]), "var1": float(fit.covariance[0, 0])}))
    """
)

R_SCRIPT = textwrap.dedent(
    """
    suppressMessages({library(jsonlite)})
    args <- commandArgs(trailingOnly = TRUE)
    d <- read.csv(args[1])
    d$subj <- factor(d$subj); d$arm <- factor(d$arm)
    d$visit <- factor(d$visit, levels = sort(unique(d$visit)))
    if (args[2] == "mmrm") {
      suppressMessages(library(mmrm))
      t <- system.time(m <- mmrm(y ~ arm * visit + x + us(visit | subj), data = d))[["elapsed"]]
      res <- list(seconds = t, loglik = as.numeric(logLik(m)),
                  beta_arm = unname(coef(m)["armb"]), var1 = VarCorr(m)[1, 1])
    } else {
      suppressMessages(library(nlme))
      d$vi <- as.integer(d$visit)
      t <- system.time(m <- gls(y ~ arm * visit + x, data = d,
                                correlation = corSymm(form = ~ vi | subj),
                                weights = varIdent(form = ~ 1 | visit)))[["elapsed"]]
      res <- list(seconds = t, loglik = as.numeric(logLik(m)),
                  beta_arm = unname(coef(m)["armb"]), var1 = m$sigma^2)
    }
    cat("MMRM-RESULT", toJSON(res, auto_unbox = TRUE, digits = NA), "\\n")
    """
)


def simulate(subjects: int, visits: int, seed: int = 2026) -> pd.DataFrame:
    """The benchmark's data set."""
    rng = np.random.default_rng(seed)
    sd = np.linspace(1.0, 2.0, visits)
    lag = np.abs(np.subtract.outer(np.arange(visits), np.arange(visits)))
    Sigma = np.outer(sd, sd) * 0.7 ** np.sqrt(lag)
    e = rng.multivariate_normal(np.zeros(visits), Sigma, size=subjects)
    arm = rng.integers(0, 2, subjects)
    visit = np.tile(np.arange(1, visits + 1), subjects)
    arm_row = np.repeat(arm, visits)
    x = rng.normal(size=subjects * visits)
    y = 1.0 + 0.5 * arm_row + 0.2 * visit + 0.3 * arm_row * visit + 0.4 * x + e.ravel()
    frame = pd.DataFrame(
        {
            "y": y,
            "x": x,
            "arm": np.where(arm_row == 1, "b", "a"),
            "visit": [f"V{v:02d}" for v in visit],
            "subj": np.repeat(np.arange(subjects), visits),
        }
    )
    missing = (rng.random(len(frame)) < 0.1) & (visit > 1)
    return frame.loc[~missing].reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--visits", type=int, default=10)
    parser.add_argument("--programs", default="mixedmodels,mmrm,nlme")
    parser.add_argument("--out", default=str(BENCH / "mmrm_speed.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "mmrm.csv"
        data = simulate(args.subjects, args.visits)
        data.to_csv(csv, index=False)
        r_file = Path(tmp) / "mmrm.R"
        r_file.write_text(R_SCRIPT)
        results = {}
        for program in args.programs.split(","):
            if program == "mixedmodels":
                command = [sys.executable, "-c", OURS, str(csv)]
            else:
                command = ["Rscript", str(r_file), str(csv), program]
            results[program] = measure(command, TAG)
            print(program, results[program], flush=True)
            # the table so far, so that a slow last program leaves the others' figures
            write_table(args, len(data), results)


def write_table(
    args: argparse.Namespace, n_rows: int, results: dict[str, dict[str, float]]
) -> None:
    """The table of the programs measured so far, to stdout and ``args.out``."""
    ours = results.get("mixedmodels")
    lines = [
        f"# Unstructured MMRM, {n_rows:,} rows of {args.subjects:,} subjects x "
        f"{args.visits} visits",
        "",
        f"`python benchmarks/mmrm_speed.py --subjects {args.subjects} --visits {args.visits}` "
        f"on {platform.machine()}, {os.cpu_count()} cores; one REML fit per program, each in a "
        "fresh process, one after the other. Model `y ~ arm * visit + x` with an unstructured "
        "covariance of the visits (nlme: `gls` with `corSymm` + `varIdent`).",
        "",
        "| program | fit s | vs mixedmodels | REML logLik | beta arm | var visit 1 | peak MB |",
        "|---|---|---|---|---|---|---|",
    ]
    for program, r in results.items():
        ratio = f"{r['seconds'] / ours['seconds']:.1f}x slower" if ours and r is not ours else "1"
        lines.append(
            f"| {program} | {r['seconds']:.2f} | {ratio} | {r['loglik']:.4f} | "
            f"{r['beta_arm']:.5f} | {r['var1']:.5f} | {r['peak_mb']:.0f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
