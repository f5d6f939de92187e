"""Satterthwaite's df on the 1M-row, 20,000-group benchmark model: time and memory.

Usage: python benchmarks/satterthwaite_1m.py [--bench-kit PATH]
Prints the fit time, the coef_table(ddf="satterthwaite") and anova() times, the peak RSS
before and after the tests (no n x n matrix is formed), and Kenward-Roger's refusal.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import pandas as pd

import mixedmodels as mm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    kit = Path(__file__).resolve().parents[2] / "shared" / "bench"
    parser.add_argument("--bench-kit", default=str(kit))
    args = parser.parse_args()
    sys.path.insert(0, args.bench_kit)
    import make_sim  # the kit's deterministic generator

    data = pd.DataFrame(make_sim.nested_slopes())
    t = time.perf_counter()
    fit = mm.lmm("y ~ x + (1 + x | g)", data)
    print(f"fit: {time.perf_counter() - t:.2f} s")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    table = fit.coef_table("satterthwaite")
    print(f"coef_table(ddf='satterthwaite'): {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    fit.anova()
    print(f"anova(): {time.perf_counter() - t:.2f} s")
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS before the tests {before:.0f} MB, after {after:.0f} MB")
    print(table[["estimate", "std_error", "df", "p_value"]])
    try:
        fit.coef_table("kenward-roger")
    except mm.ModelSpecError as exc:
        print(f"kenward-roger: {exc}")


if __name__ == "__main__":
    main()
