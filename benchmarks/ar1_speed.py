"""A random intercept with AR(1) residuals side by side: mixedmodels
(``mm.lmm(..., correlation=mm.corAR1(...))``), nlme's ``lme(..., correlation = corAR1())``
and glmmTMB's ``ar1()`` on the same simulated data, each fit in a fresh process (issue 14).

Usage::

    python benchmarks/ar1_speed.py                             # 100,000 rows, 2,000 subjects
    python benchmarks/ar1_speed.py --subjects 20000 --visits 50 --programs mixedmodels,glmmTMB

The data: ``y = 1 + 0.5 x + b_i + e_it`` with ``b_i ~ N(0, 0.7^2)`` and, within a subject,
``e`` a stationary AR(1) series with Phi = 0.6 and unit variance over ``visits`` visits;
seed 2026. The models are REML fits of the same likelihood: nlme's lme and ours directly;
glmmTMB's as ``(1 | subj) + ar1(visit + 0 | subj)`` with the residual variance held at its
floor (``dispformula = ~ 0``), the way glmmTMB writes AR(1) residuals, by ML, its default,
so its logLik is the ML one (glmmTMB 1.1.5 also fits this form with ``REML = TRUE``, as
``crossed_ar1_speed.py`` runs it; the recorded run predates that, and is kept as run).
Times are the fit alone (data read before the clock starts); peak memory is the process's
maximum resident set. The table goes to stdout and to ``benchmarks/ar1_speed.md``.
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
TAG = "AR1-RESULT "

OURS = textwrap.dedent(
    """
    import json, sys, time
    import pandas as pd
    import mixedmodels as mm
    data = pd.read_csv(sys.argv[1])
    data["subj"] = data["subj"].astype(str)
    ar1 = mm.corAR1(form="~ visit | subj")
    mm.lmm("y ~ x + (1 | subj)", data.head(500), correlation=ar1)  # warm-up
    t = time.perf_counter()
    fit = mm.lmm("y ~ x + (1 | subj)", data, correlation=ar1)
    seconds = time.perf_counter() - t
    print("AR1-RESULT " + json.dumps({"seconds": seconds, "loglik": fit.loglik,
          "phi": fit.correlation_params["Phi"], "beta": list(map(float, fit.beta)),
          "sd": float(fit.varcorr.sd_cor.iloc[0]), "sigma": fit.sigma}))
    """
)

R_SCRIPT = textwrap.dedent(
    """
    suppressMessages({library(nlme); library(glmmTMB); library(jsonlite)})
    args <- commandArgs(trailingOnly = TRUE)
    d <- read.csv(args[1]); d$subj <- factor(d$subj)
    if (args[2] == "nlme") {
      t <- system.time(m <- lme(y ~ x, random = ~ 1 | subj, data = d,
                                correlation = corAR1(form = ~ visit | subj)))[["elapsed"]]
      res <- list(seconds = t, loglik = as.numeric(logLik(m)),
                  phi = unname(coef(m$modelStruct$corStruct, unconstrained = FALSE)),
                  beta = unname(fixef(m)), sd = as.numeric(VarCorr(m)[1, "StdDev"]),
                  sigma = m$sigma)
    } else {
      d$visitf <- factor(d$visit)
      t <- system.time(m <- glmmTMB(y ~ x + (1 | subj) + ar1(visitf + 0 | subj), data = d,
                                    dispformula = ~ 0))[["elapsed"]]
      vc <- VarCorr(m)$cond
      res <- list(seconds = t, loglik = as.numeric(logLik(m)),
                  phi = unname(attr(vc[[2]], "correlation")[1, 2]),
                  beta = unname(fixef(m)$cond), sd = unname(attr(vc[[1]], "stddev")),
                  sigma = unname(attr(vc[[2]], "stddev")[1]))
    }
    cat("AR1-RESULT", toJSON(res, auto_unbox = TRUE, digits = NA), "\\n")
    """
)


def simulate(subjects: int, visits: int, seed: int = 2026) -> pd.DataFrame:
    """The benchmark's data set."""
    rng = np.random.default_rng(seed)
    phi = 0.6
    z = rng.normal(size=(subjects, visits))
    e = np.empty_like(z)
    e[:, 0] = z[:, 0]
    for j in range(1, visits):
        e[:, j] = phi * e[:, j - 1] + np.sqrt(1 - phi**2) * z[:, j]
    subj = np.repeat(np.arange(subjects), visits)
    x = rng.normal(size=subjects * visits)
    y = 1.0 + 0.5 * x + rng.normal(0.0, 0.7, subjects)[subj] + e.ravel()
    visit = np.tile(np.arange(1, visits + 1), subjects)
    return pd.DataFrame({"y": y, "x": x, "subj": subj, "visit": visit})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=2_000)
    parser.add_argument("--visits", type=int, default=50)
    parser.add_argument("--programs", default="mixedmodels,nlme,glmmTMB")
    parser.add_argument("--out", default=str(BENCH / "ar1_speed.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "ar1.csv"
        simulate(args.subjects, args.visits).to_csv(csv, index=False)
        r_file = Path(tmp) / "ar1.R"
        r_file.write_text(R_SCRIPT)
        results = {}
        for program in args.programs.split(","):
            if program == "mixedmodels":
                command = [sys.executable, "-c", OURS, str(csv)]
            else:
                command = ["Rscript", str(r_file), str(csv), program]
            results[program] = measure(command, TAG)
            print(program, results[program], flush=True)
    ours = results.get("mixedmodels")
    rows = args.subjects * args.visits
    lines = [
        f"# Random intercept with AR(1) residuals, {rows:,} rows x {args.subjects:,} subjects",
        "",
        f"`python benchmarks/ar1_speed.py --subjects {args.subjects} --visits {args.visits}` on "
        f"{platform.machine()}, {os.cpu_count()} cores; one fit per program, each in a fresh "
        "process, one after the other. Model `y ~ x + (1 | subj)` with AR(1) residuals "
        "within subjects (glmmTMB: `ar1(visit + 0 | subj)`, `dispformula = ~ 0`, ML).",
        "",
        "| program | fit s | vs mixedmodels | logLik | Phi | beta | sd(subj) | sigma | peak MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for program, r in results.items():
        ratio = f"{r['seconds'] / ours['seconds']:.1f}x slower" if ours and r is not ours else "1"
        beta = ", ".join(f"{b:.5f}" for b in r["beta"])
        lines.append(
            f"| {program} | {r['seconds']:.2f} | {ratio} | {r['loglik']:.4f} | {r['phi']:.5f} | "
            f"{beta} | {r['sd']:.5f} | {r['sigma']:.5f} | {r['peak_mb']:.0f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
