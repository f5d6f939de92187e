"""A long fit reports on stderr while it runs, and Ctrl+C stops it with a message that
says where it was (issue 17)."""

from __future__ import annotations

import time

import numpy as np
import pytest

import mixedmodels as mm
from mixedmodels.core import progress
from mixedmodels.core.optimize import minimize_theta
from mixedmodels.core.optinfo import OptimizerSettings
from mixedmodels.core.progress import FitInterrupted


def _slow(theta: np.ndarray) -> float:
    time.sleep(0.002)
    return float(np.sum((theta - 0.5) ** 2))


def test_a_slow_fit_reports_its_progress(monkeypatch, capsys) -> None:
    monkeypatch.setattr(progress, "PROGRESS_AFTER", 0.0)
    monkeypatch.setattr(progress, "PROGRESS_EVERY", 0.05)
    start, lower = np.array([1.0, 1.0]), np.zeros(2)
    theta, _ = minimize_theta(_slow, start, lower, OptimizerSettings(), check=False)
    np.testing.assert_allclose(theta, 0.5, atol=1e-4)
    err = capsys.readouterr().err
    assert "mixedmodels: still fitting:" in err and "evaluations in" in err
    minimize_theta(_slow, start, lower, OptimizerSettings(progress=False), check=False)
    assert capsys.readouterr().err == ""


def test_a_fit_under_ten_seconds_says_nothing(capsys) -> None:
    mm.lmm("Reaction ~ Days + (Days | Subject)", mm.datasets.load("sleepstudy"))
    assert "still fitting" not in capsys.readouterr().err


def test_ctrl_c_stops_the_fit_with_where_it_was() -> None:
    calls = 0

    def interrupted(theta: np.ndarray) -> float:
        nonlocal calls
        calls += 1
        if calls == 25:
            raise KeyboardInterrupt
        return float(np.sum((theta - 0.5) ** 2))

    with pytest.raises(
        FitInterrupted, match="interrupted after 24 evaluations in .* best criterion"
    ):
        minimize_theta(interrupted, np.array([1.0, 1.0]), np.zeros(2), OptimizerSettings(), False)
    assert issubclass(FitInterrupted, KeyboardInterrupt)


def test_the_reported_criterion_is_the_one_the_fit_returns(monkeypatch, capsys) -> None:
    """The optimizer works on centred and scaled matrices, whose REML criterion differs
    from the reported one by a constant: the progress lines show the reported one."""
    monkeypatch.setattr(progress, "PROGRESS_AFTER", 0.0)
    monkeypatch.setattr(progress, "PROGRESS_EVERY", 0.0)
    data = mm.datasets.load("sleepstudy").assign(Days=lambda d: d["Days"] * 1000 + 5e4)
    fit = mm.lmm("Reaction ~ Days + (Days | Subject)", data)
    lines = [x for x in capsys.readouterr().err.splitlines() if "best criterion" in x]
    assert lines
    best = float(lines[-1].rsplit("best criterion ", 1)[1])
    assert best >= fit.objective - 1e-6 * abs(fit.objective)
    assert best - fit.objective < 1e-3 * abs(fit.objective)
