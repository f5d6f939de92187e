"""Time ``coef_table(ddf="kenward-roger")`` on sleepstudy and on larger simulated designs.

Usage: python benchmarks/kenward_roger.py [--reps N] [--designs a,b,...]

Each design is fitted once (not timed), then ``coef_table(ddf="kenward-roger")`` is timed
``--reps`` times and the median printed, with the number of random effects q, the peak
RSS and the Kenward-Roger df. A design the installed version refuses prints the reason.
Run it with ``PYTHONPATH`` pointing at two checkouts, one after the other, to compare
them on the same machine (``benchmarks/kenward_roger.md``).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time

import numpy as np
import pandas as pd

import mixedmodels as mm


def simulated(n: int, groups: int, slope: bool, crossed: int = 0, seed: int = 1) -> pd.DataFrame:
    """``n`` rows in ``groups`` groups (a random intercept, and a slope on x if asked),
    with a second, crossed factor of ``crossed`` levels when it is not 0."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, n)
    x = rng.normal(size=n)
    u = rng.normal(size=(groups, 2)) * [1.0, 0.5]
    y = 1.0 + 0.3 * x + u[g, 0] + (u[g, 1] * x if slope else 0.0) + rng.normal(size=n)
    frame = {"y": y, "x": x, "g": g}
    if crossed:
        h = rng.integers(0, crossed, n)
        frame["h"] = h
        frame["y"] = y + 0.5 * rng.normal(size=crossed)[h]
    return pd.DataFrame(frame)


DESIGNS = {
    "sleepstudy": (
        "Reaction ~ Days + (Days | Subject)",
        lambda: mm.datasets.load("sleepstudy"),
    ),
    "5k-slopes": ("y ~ x + (x | g)", lambda: simulated(5_000, 100, slope=True)),
    "20k-slopes": ("y ~ x + (x | g)", lambda: simulated(20_000, 200, slope=True)),
    "50k-crossed": (
        "y ~ x + (1 | g) + (1 | h)",
        lambda: simulated(50_000, 2_000, slope=False, crossed=2_000),
    ),
    "50k-5000-groups": ("y ~ x + (1 | g)", lambda: simulated(50_000, 5_000, slope=False)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--designs", default=",".join(DESIGNS))
    args = parser.parse_args()
    print(f"mixedmodels from {os.path.dirname(mm.__file__)}")
    print(f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print("| design | formula | rows | q | median s | peak RSS MB | df |")
    print("|---|---|---:|---:|---:|---:|---|")
    for name in args.designs.split(","):
        formula, load = DESIGNS[name]
        shown = formula.replace("|", "\\|")  # inside a markdown table
        data = load()
        fit = mm.lmm(formula, data)
        q = sum(fit.ngroups[t.factor.name] * t.n_columns for t in fit._frame.terms)
        seconds = []
        try:
            for _ in range(args.reps):
                start = time.perf_counter()
                table = fit.coef_table(ddf="kenward-roger")
                seconds.append(time.perf_counter() - start)
        except mm.ModelSpecError as exc:
            print(f"| {name} | `{shown}` | {fit.nobs} | {q} | refused: {exc} | | |")
            continue
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        df = ", ".join(f"{v:.2f}" for v in table["df"])
        print(
            f"| {name} | `{shown}` | {fit.nobs} | {q} | {statistics.median(seconds):.4f} "
            f"| {peak:.0f} | {df} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
