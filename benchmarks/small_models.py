"""Small models without overhead: a sleepstudy fit and a refit, beside mixedlm, in one run.

Run ``python benchmarks/small_models.py [--repeats 60]``. Each timing is the median over
``repeats`` fits in this process after a warm-up; the three fits are interleaved, so a
busy machine slows them alike. The output is a markdown table (``small_models.md``
keeps a run).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import mixedmodels as mm

FORMULA = "Reaction ~ Days + (Days | Subject)"


def _median_ms(samples: list[float]) -> float:
    return float(np.median(samples) * 1e3)


def main(argv: list[str] | None = None) -> None:
    """Time the fits and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=60)
    args = parser.parse_args(argv)
    data = mm.datasets.load("sleepstudy")
    fit = mm.lmm(FORMULA, data)
    y = data["Reaction"].to_numpy()
    simulated = fit.simulate(args.repeats, seed=1)
    runs: dict[str, Callable[[int], Any]] = {
        "mixedmodels mm.lmm": lambda i: mm.lmm(FORMULA, data),
        "mixedmodels fit.refit(y), same response": lambda i: fit.refit(y),
        "mixedmodels fit.refit(y), simulated responses": lambda i: fit.refit(simulated[:, i]),
    }
    try:
        import mixedlm

        runs["mixedlm lmer(REML=True)"] = lambda i: mixedlm.lmer(FORMULA, data, REML=True)
    except ImportError:  # pragma: no cover - the peer is optional
        pass
    samples: dict[str, list[float]] = {name: [] for name in runs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for run in runs.values():  # warm-up
            for i in range(5):
                run(i)
        for i in range(args.repeats):
            for name, run in runs.items():
                t0 = time.perf_counter()
                run(i)
                samples[name].append(time.perf_counter() - t0)
    print(
        f"sleepstudy, `{FORMULA}`, REML; median of {args.repeats} interleaved runs after a "
        f"warm-up; {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}\n"
    )
    print("| what | median ms |\n|---|---:|")
    for name, values in samples.items():
        print(f"| {name} | {_median_ms(values):.2f} |")


if __name__ == "__main__":
    main()
