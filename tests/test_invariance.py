"""Fits do not depend on row order, on a shift of y (apart from the intercept) or on unit
weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm

MODELS = [
    ("sleepstudy", "Reaction ~ Days + (Days | Subject)"),
    ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)"),
    ("Pastes", "strength ~ 1 + (1 | batch/cask)"),
]


@pytest.mark.parametrize(("name", "formula"), MODELS)
def test_row_order(name: str, formula: str) -> None:
    data = mm.datasets.load(name)
    shuffled = data.sample(frac=1.0, random_state=7)
    a, b = mm.lmm(formula, data), mm.lmm(formula, shuffled)
    assert b.objective == pytest.approx(a.objective, abs=1e-7)
    np.testing.assert_allclose(b.fixef, a.fixef, rtol=1e-6)
    np.testing.assert_allclose(b.theta, a.theta, rtol=1e-4, atol=1e-5)
    pd.testing.assert_series_equal(b.fitted.sort_index(), a.fitted, rtol=1e-5)


@pytest.mark.parametrize(("name", "formula"), MODELS)
def test_shift_of_response(name: str, formula: str) -> None:
    data = mm.datasets.load(name)
    response = formula.split("~")[0].strip()
    shifted = data.assign(**{response: data[response] + 1000.0})
    a, b = mm.lmm(formula, data), mm.lmm(formula, shifted)
    assert b.objective == pytest.approx(a.objective, abs=1e-6)
    assert b.fixef["(Intercept)"] == pytest.approx(a.fixef["(Intercept)"] + 1000.0, rel=1e-9)
    np.testing.assert_allclose(b.fixef.iloc[1:], a.fixef.iloc[1:], rtol=1e-6)
    np.testing.assert_allclose(b.theta, a.theta, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("name", "formula"), MODELS)
def test_unit_weights(name: str, formula: str) -> None:
    data = mm.datasets.load(name)
    a = mm.lmm(formula, data)
    b = mm.lmm(formula, data, weights=np.ones(len(data)))
    assert b.objective == pytest.approx(a.objective, abs=1e-10)
    np.testing.assert_allclose(b.theta, a.theta, rtol=1e-10)
