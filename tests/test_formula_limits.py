"""Limits on what a formula may cost: constant arithmetic bounded before evaluation, the
formula's length, the evaluation's time, and models with no residual degrees of freedom."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.errors import FormulaError, ModelSpecError


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {"y": rng.normal(size=40), "x": rng.normal(size=40), "g": np.repeat(np.arange(8), 5)}
    )


@pytest.mark.parametrize(
    ("term", "message"),
    [
        ("I(((2**1000)**1000)**1000)", "beyond a float's range"),  # minutes of big integers
        ("I(x * 10**999)", "beyond a float's range"),
        ("I(x + (10**200) * (10**200))", "beyond a float's range"),
        ("I(1 << 10**3 << 10**3)", "beyond a float's range"),
        ("I('a' * 10**9)", "text or a tuple in arithmetic"),  # a gigabyte of text
        ("I((1,) * 10**9)", "text or a tuple in arithmetic"),
        ("log(x + 'a')", "text or a tuple in arithmetic"),
    ],
)
def test_constant_arithmetic_is_bounded_before_it_runs(
    data: pd.DataFrame, term: str, message: str
) -> None:
    t0 = time.perf_counter()
    with pytest.raises(FormulaError, match=message):
        mm.lmm(f"y ~ {term} + (1 | g)", data)
    assert time.perf_counter() - t0 < 2.0  # refused, not computed


@pytest.mark.parametrize(
    "term", ["I(x * 10**300)", "I(x * 10**-400)", "I(x^2)", "I(x + 1e5)", "log(x + 10)"]
)
def test_ordinary_constants_are_evaluated(data: pd.DataFrame, term: str) -> None:
    """Large and small constants within a float's range are left to the fit's own
    checks (a column of 1e300 is refused there for its sums of squares)."""
    from mixedmodels.design.literals import check_constants

    check_constants(term, "the fixed part")


def test_the_formula_length_is_limited(data: pd.DataFrame) -> None:
    from mixedmodels.formula.parse import MAX_FORMULA_CHARACTERS

    long = "y ~ " + " + ".join(["x"] * (MAX_FORMULA_CHARACTERS // 4)) + " + (1 | g)"
    with pytest.raises(FormulaError, match="characters"):
        mm.lmm(long, data)


def test_evaluation_stops_at_its_time_limit(
    data: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mixedmodels.design.frame as frame

    monkeypatch.setattr(frame, "FORMULA_SECONDS", -1.0)
    with pytest.raises(FormulaError, match="took more than .* the fixed part"):
        mm.lmm("y ~ x + (1 | g)", data)


def test_no_residual_degrees_of_freedom_is_refused(data: pd.DataFrame) -> None:
    with pytest.raises(ModelSpecError, match="40 fixed-effect coefficients for 40"):
        mm.lmm("y ~ poly(x, 39) + (1 | g)", data)
    fit = mm.lmm("y ~ poly(x, 2) + (1 | g)", data)
    assert fit.nobs == 40
