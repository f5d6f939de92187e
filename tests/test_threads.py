"""The BLAS thread policy: one thread for small work, the idle cores for large factors."""

from __future__ import annotations

import os

import numpy  # noqa: F401 - loads the BLAS libraries the policy limits
import pytest
import scipy.linalg  # noqa: F401
from threadpoolctl import threadpool_info

from mixedmodels import _threads


def _blas_threads() -> set[int]:
    return {int(p["num_threads"]) for p in threadpool_info() if p.get("user_api") == "blas"}


def test_idle_cores_is_between_zero_and_the_machine() -> None:
    assert 0 <= _threads.idle_cores() <= (os.cpu_count() or 1)


def test_a_busy_machine_gets_one_thread_for_a_large_factor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_threads, "idle_cores", lambda: 0)
    with _threads.lapack_threads(5000):
        assert _blas_threads() == {1}


def test_an_idle_core_adds_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_threads, "idle_cores", lambda: 1)
    with _threads.one_blas_thread():  # as inside a fit of a small workspace
        assert _blas_threads() == {1}
        with _threads.lapack_threads(5000):
            assert _blas_threads() == {2}
        assert _blas_threads() == {1}
        with _threads.lapack_threads(100):  # small: the fit's own setting
            assert _blas_threads() == {1}


def test_an_unreadable_load_counts_no_idle_core(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(*args: object, **kwargs: object) -> object:
        raise OSError("no /proc here")

    monkeypatch.setattr("builtins.open", missing)
    assert _threads.idle_cores() == 0


def test_a_factor_too_large_for_threaded_syrk_runs_on_one_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """OpenBLAS's threaded dsyrk crashes the process on orders LAPACK's Cholesky reaches
    above about 31,000: those run on one thread even with idle cores."""
    monkeypatch.setattr(_threads, "idle_cores", lambda: 1)
    with _threads.lapack_threads(_threads.ONE_THREAD_ORDER - 1):
        assert _blas_threads() == {2}
    with _threads.lapack_threads(_threads.ONE_THREAD_ORDER):
        assert _blas_threads() == {1}
