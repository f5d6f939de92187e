"""Replicates run from several threads at once (the explorer serves requests on threads)
give exactly the serial results: no call runs another call's work."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

import mixedmodels as mm


def _type1(icc: float, n_jobs: int) -> pd.DataFrame:
    result = mm.type1_error(
        n_clusters=8, cluster_size=6, icc=icc, n_sims=24, seed=7, n_jobs=n_jobs, progress=False
    )
    return result.table


def test_concurrent_simulations_equal_the_serial_ones() -> None:
    iccs = [0.0, 0.2, 0.5, 0.8]
    serial = [_type1(icc, 1) for icc in iccs]
    # the designs differ in their ICC, so a call that ran another's work would show
    # another call's rates under its own heading
    assert not serial[0].equals(serial[-1])
    with ThreadPoolExecutor(max_workers=4) as threads:
        concurrent = list(threads.map(lambda icc: _type1(icc, 2), iccs))
    for ours, expected in zip(concurrent, serial, strict=True):
        pd.testing.assert_frame_equal(ours, expected)


def test_concurrent_bootstraps_equal_the_serial_ones() -> None:
    sleep = mm.datasets.load("sleepstudy")
    fits = [
        mm.lmm("Reaction ~ Days + (1 | Subject)", sleep),
        mm.lmm("Reaction ~ Days + (Days | Subject)", sleep),
    ]

    def boot(fit: mm.LmmResult, n_jobs: int) -> np.ndarray:
        replicates = mm.bootstrap(fit, n=12, seed=3, n_jobs=n_jobs, progress=False)
        return replicates.replicates.to_numpy()

    serial = [boot(f, 1) for f in fits]
    with ThreadPoolExecutor(max_workers=2) as threads:
        concurrent = list(threads.map(lambda f: boot(f, 2), fits))
    for ours, expected in zip(concurrent, serial, strict=True):
        np.testing.assert_array_equal(ours, expected)
