"""The shipped data sets."""

from __future__ import annotations

import pandas as pd
import pytest

import mixedmodels as mm

REQUIRED = ["sleepstudy", "Dyestuff", "Dyestuff2", "Penicillin", "Pastes", "cake", "cbpp"]


def test_required_sets_are_shipped_with_sources() -> None:
    names = mm.datasets.names()
    for name in REQUIRED:
        assert name in names
        info = mm.datasets.describe(name)
        assert info.source and info.description


@pytest.mark.parametrize(
    ("name", "rows", "factors"),
    [
        ("sleepstudy", 180, {"Subject": 18}),
        ("Dyestuff", 30, {"Batch": 6}),
        ("Dyestuff2", 30, {"Batch": 6}),
        ("Penicillin", 144, {"plate": 24, "sample": 6}),
        ("Pastes", 60, {"batch": 10, "cask": 3, "sample": 30}),
        ("cake", 270, {"recipe": 3, "replicate": 15}),
        ("cbpp", 56, {"herd": 15, "period": 4}),
        ("Salamanders", 644, {"site": 23, "spp": 7, "mined": 2}),
        ("Owls", 599, {"Nest": 27, "FoodTreatment": 2, "SexParent": 2}),
        ("betasim", 548, {"g": 40, "trt": 2}),
        ("Orthodont", 108, {"Subject": 27, "Sex": 2}),
        ("Ovary", 308, {"Mare": 11}),
    ],
)
def test_shapes_and_factor_levels(name: str, rows: int, factors: dict[str, int]) -> None:
    data = mm.datasets.load(name)
    assert len(data) == rows
    for column, n_levels in factors.items():
        assert isinstance(data[column].dtype, pd.CategoricalDtype)
        assert len(data[column].cat.categories) == n_levels


def test_names_are_case_insensitive_and_unknown_names_are_listed() -> None:
    assert len(mm.datasets.load("SLEEPSTUDY")) == 180
    with pytest.raises(mm.DataError, match="available: .*sleepstudy"):
        mm.datasets.load("sleepy")
