"""Negative binomial GLMMs side by side: mixedmodels, glmmTMB (``nbinom2``) and lme4's
``glmer.nb`` on the same simulated data, each fit in a fresh process of its own (issue 13).

Usage::

    python benchmarks/negbin_speed.py                    # 200,000 rows, 5,000 groups
    python benchmarks/negbin_speed.py --rows 20000 --groups 500 --programs mixedmodels
    python benchmarks/negbin_speed.py --rows 100000 --groups 2500 --zi \
        --programs mixedmodels,glmmTMB

The data: ``y ~ NB2(mu, theta = 2)`` with ``log mu = 0.5 + 0.3 x + b_g``, ``b_g ~ N(0, 0.5^2)``,
groups drawn uniformly, seed 2026; the model ``y ~ x + (1 | g)`` by the Laplace
approximation with theta estimated. With ``--zi`` a share ``logit^{-1}(-1 + 0.5 x)`` of
the rows are structural zeros and the model has ``zi = ~ x`` (glmer.nb has no
zero-inflation). Each program's time is the fit alone (data read
before the clock starts); peak memory is the process's maximum resident set (getrusage of
the child). The table goes to stdout and to ``benchmarks/negbin_speed.md``.
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
TAG = "NB-RESULT "

OURS = textwrap.dedent(
    """
    import json, sys, time
    import pandas as pd
    import mixedmodels as mm
    data = pd.read_csv(sys.argv[1])
    zi = sys.argv[2] if len(sys.argv) > 2 else None
    mm.glmm("y ~ x + (1 | g)", data.head(2000), family="negative.binomial", zi=zi)  # warm-up
    t = time.perf_counter()
    fit = mm.glmm("y ~ x + (1 | g)", data, family="negative.binomial", zi=zi)
    seconds = time.perf_counter() - t
    print("NB-RESULT " + json.dumps({"seconds": seconds, "loglik": fit.loglik,
          "theta": fit.dispersion, "beta": list(map(float, fit.beta)),
          "sd": float(fit.varcorr.sd_cor.iloc[0]),
          "evaluations": fit.optinfo.n_evaluations}))
    """
)

R_SCRIPT = textwrap.dedent(
    """
    suppressMessages({library(glmmTMB); library(lme4); library(jsonlite)})
    args <- commandArgs(trailingOnly = TRUE)
    d <- read.csv(args[1]); d$g <- factor(d$g)
    zi <- if (length(args) > 2) as.formula(args[3]) else ~0
    if (args[2] == "glmmTMB") {
      t <- system.time(m <- glmmTMB(y ~ x + (1 | g), d, family = nbinom2,
                                    ziformula = zi))[["elapsed"]]
      res <- list(seconds = t, loglik = as.numeric(logLik(m)), theta = sigma(m),
                  beta = unname(fixef(m)$cond),
                  sd = unname(attr(VarCorr(m)$cond$g, "stddev")))
    } else {
      t <- system.time(m <- glmer.nb(y ~ x + (1 | g), d))[["elapsed"]]
      res <- list(seconds = t, loglik = as.numeric(logLik(m)),
                  theta = getME(m, "glmer.nb.theta"), beta = unname(fixef(m)),
                  sd = unname(attr(VarCorr(m)$g, "stddev")))
    }
    cat("NB-RESULT", toJSON(res, auto_unbox = TRUE, digits = NA), "\\n")
    """
)


def simulate(rows: int, groups: int, seed: int = 2026, zi: bool = False) -> pd.DataFrame:
    """The benchmark's data set (with structural zeros when ``zi``)."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, rows)
    x = rng.normal(size=rows)
    b = rng.normal(0.0, 0.5, groups)
    mu = np.exp(0.5 + 0.3 * x + b[g])
    theta = 2.0
    y = rng.negative_binomial(theta, theta / (theta + mu))
    if zi:
        structural = rng.random(rows) < 1.0 / (1.0 + np.exp(1.0 - 0.5 * x))
        y = np.where(structural, 0, y)
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{i}" for i in g]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--groups", type=int, default=5_000)
    parser.add_argument("--programs", default="mixedmodels,glmmTMB,glmer.nb")
    parser.add_argument("--zi", action="store_true", help="zero-inflated data, zi = ~ x")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    default = "negbin_zi_speed.md" if args.zi else "negbin_speed.md"
    out_path = Path(args.out) if args.out else BENCH / default
    zi_args = ["~ x"] if args.zi else []
    programs = args.programs.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "nb.csv"
        simulate(args.rows, args.groups, zi=args.zi).to_csv(csv, index=False)
        r_file = Path(tmp) / "nb.R"
        r_file.write_text(R_SCRIPT)
        results = {}
        for program in programs:
            if program == "mixedmodels":
                command = [sys.executable, "-c", OURS, str(csv), *zi_args]
            else:
                command = ["Rscript", str(r_file), str(csv), program, *zi_args]
            results[program] = measure(command, TAG)
            print(program, results[program], flush=True)
    ours = results.get("mixedmodels")
    lines = [
        f"# {'Zero-inflated n' if args.zi else 'N'}egative binomial GLMM, {args.rows:,} rows x "
        f"{args.groups:,} groups",
        "",
        f"`python benchmarks/negbin_speed.py --rows {args.rows} --groups {args.groups}"
        f"{' --zi' if args.zi else ''}` on "
        f"{platform.machine()}, {os.cpu_count()} cores; one fit per program, each in a fresh "
        "process, run one after the other on an otherwise idle machine. Model "
        "`y ~ x + (1 | g)`, NB2 with theta estimated, Laplace"
        + (", zero-inflation `~ x`." if args.zi else "."),
        "",
        "| program | fit s | vs mixedmodels | logLik | theta | beta | sd(g) | peak MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for program, r in results.items():
        ratio = f"{r['seconds'] / ours['seconds']:.1f}x slower" if ours and r is not ours else "1"
        beta = ", ".join(f"{b:.5f}" for b in r["beta"])
        lines.append(
            f"| {program} | {r['seconds']:.2f} | {ratio} | {r['loglik']:.4f} | "
            f"{r['theta']:.5f} | {beta} | {r['sd']:.5f} | {r.get('peak_mb', float('nan')):.0f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    out_path.write_text(text)


if __name__ == "__main__":
    main()
