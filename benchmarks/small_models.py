"""Small models without overhead: a sleepstudy fit and a refit, beside mixedlm, in one run.

Run ``python benchmarks/small_models.py [--repeats 60]``. Each timing is the median over
``repeats`` fits in this process after a warm-up; the three fits are interleaved, so a
busy machine slows them alike. The output is a markdown table (``small_models.md``
keeps a run).

``--kernels`` instead times one evaluation of the criterion and its gradient on the dense
system (:mod:`mixedmodels.core.densesystem`) and on the blocked kernels, for models of
growing size ``N = q + p + 1``: the measurement behind ``DENSE_SYSTEM_MAX``.
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


def _evaluation_us(run: Callable[[], Any], repeats: int) -> float:
    for _ in range(10):
        run()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        samples.append(time.perf_counter() - t0)
    return float(np.median(samples) * 1e6)


def kernels(repeats: int) -> None:
    """One evaluation on the dense system against the blocked kernels, by model size."""
    import pandas as pd

    print(
        "One evaluation of the REML criterion and its gradient (median us of "
        f"{repeats}); {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}\n"
    )
    print("| model | levels | N | blocked us | dense us |\n|---|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    designs = [("y ~ x + (x | g)", "one vector term"), ("y ~ x + (1 | g) + (1 | h)", "crossed")]
    for formula, label in designs:
        for m in (10, 20, 30, 45, 60, 90, 120):
            n = 10 * m
            g = rng.integers(0, m, n)
            h = rng.integers(0, max(m // 3, 2), n)
            data = pd.DataFrame(
                {
                    "y": rng.normal(size=n) + rng.normal(size=m)[g],
                    "x": rng.normal(size=n),
                    "g": g.astype(str),
                    "h": h.astype(str),
                }
            )
            size, blocked_us, dense_us = _one_evaluation(formula, data, repeats)
            print(f"| {label} | {m} | {size} | {blocked_us:.0f} | {dense_us:.0f} |")


def _one_evaluation(formula: str, data: Any, repeats: int) -> tuple[int, float, float]:
    """``N`` and the microseconds of one evaluation, blocked and dense, near the optimum."""
    from mixedmodels.core.densesystem import DenseSystem
    from mixedmodels.core.solution import solve
    from mixedmodels.lmm.gradient import objective_gradient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = mm.lmm(formula, data)
    model = fit.model
    dense = DenseSystem.of(model.products, model.tail_shapes, model.theta_map)
    theta = model.internal_theta(fit.theta) + 0.1
    ws = model.workspace

    def blocked() -> None:
        fac = ws.factorize(model.theta_map.factors(theta), keep_schur=True)
        objective_gradient(ws, fac, solve(ws, fac), model.theta_map.position, True)

    blocked_us = _evaluation_us(blocked, repeats)
    dense_us = _evaluation_us(lambda: dense.objective_and_gradient(theta, True), repeats)
    return int(dense.A.shape[0]), blocked_us, dense_us


def main(argv: list[str] | None = None) -> None:
    """Time the fits and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--kernels", action="store_true", help="time one evaluation by size")
    args = parser.parse_args(argv)
    if args.kernels:
        kernels(max(args.repeats, 100))
        return
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
