"""Every lmer case of the shared lme4 reference kit, at the kit's tolerances."""

from __future__ import annotations

import csv

import pytest

from lme4_reference import REFERENCE, check_against_lme4, fit_reference, load_reference


def _cases(file: str) -> list[str]:
    path = REFERENCE / file
    if not path.exists():
        return []
    with path.open() as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [r["id"] for r in rows if r["kind"] == "lmer"]


@pytest.mark.parametrize("case", _cases("cases.tsv") + _cases("cases_extra.tsv"))
def test_matches_lme4(case: str) -> None:
    ref = load_reference(case)
    check_against_lme4(fit_reference(ref), ref)
