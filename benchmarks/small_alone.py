"""sleepstudy fits timed alone in one process, mixedmodels or mixedlm.

``python benchmarks/small_alone.py mixedmodels warm`` (or ``mixedlm``; ``gc`` instead of
``warm`` runs ``gc.collect()`` before each fit, as ``benchmarks/run.py`` does): 60 fits
after 10 warm-up fits, the median printed. Each program runs in its own process, so
neither evicts the other's code and data from the caches, as the interleaved runs of
``small_models.py`` do.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

FORMULA = "Reaction ~ Days + (Days | Subject)"


def main() -> None:
    program, mode = sys.argv[1], sys.argv[2]
    warnings.simplefilter("ignore")
    csv = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    if csv is not None:
        data = pd.read_csv(csv)
    else:
        import mixedmodels as mm

        data = mm.datasets.load("sleepstudy")
    if program == "mixedmodels":
        import mixedmodels as mm

        def fit() -> object:
            return mm.lmm(FORMULA, data)
    else:
        import mixedlm

        def fit() -> object:
            return mixedlm.lmer(FORMULA, data, REML=True)

    for _ in range(10):
        fit()
    seconds = []
    for _ in range(60):
        if mode == "gc":
            gc.collect()
        start = time.perf_counter()
        fit()
        seconds.append(time.perf_counter() - start)
    print(f"{program} {mode}: median {statistics.median(seconds) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
