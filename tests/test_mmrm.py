"""mm.mmrm against R's mmrm and SAS PROC MIXED on mmrm's FEV data
(tests/reference/mmrm_reference.R, tests/reference/mmrm_sas_extract.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from mixedmodels.errors import DataError, ModelSpecError

REF = Path(__file__).parent / "reference"
MMRM = json.loads((REF / "mmrm_fev.json").read_text())
SAS = json.loads((REF / "mmrm_sas.json").read_text())
DDF = {"Satterthwaite": "satterthwaite", "Kenward-Roger": "kenward-roger"}


@pytest.fixture(scope="module")
def fev() -> pd.DataFrame:
    data = pd.read_csv(REF / "data" / "fev_data.csv")
    levels = json.loads((REF / "data" / "fev_data.levels.json").read_text())
    for column, order in levels.items():
        data[column] = pd.Categorical(data[column].astype(str), categories=order)
    return data


def _r_name(name: str) -> str:
    return name.replace("[T.", "").replace("]", "")


@pytest.mark.parametrize(
    "case",
    MMRM["fits"],
    ids=[f"{f['structure']}-{'reml' if f['reml'] else 'ml'}-{f['method']}" for f in MMRM["fits"]],
)
def test_matches_mmrm(fev: pd.DataFrame, case: dict) -> None:
    formula = f"{MMRM['formula']} + {case['structure']}(AVISIT | USUBJID)"
    fit = mm.mmrm(formula, fev, reml=case["reml"])
    assert fit.converged
    assert fit.nobs == 537 and fit.n_subjects == 197
    table = fit.coef_table(DDF[case["method"]])
    table.index = [_r_name(n) for n in table.index]
    table = table.loc[case["names"]]
    se = np.array(case["std_error"])
    assert abs(fit.loglik - case["loglik"]) < 1e-4
    np.testing.assert_array_less(np.abs(table["estimate"] - case["estimate"]) / se, 1e-3)
    np.testing.assert_allclose(table["std_error"], se, rtol=1e-3)
    np.testing.assert_allclose(table["df"], case["df"], rtol=1e-2)
    cov = np.array(case["covariance"])
    np.testing.assert_allclose(fit.covariance, cov, rtol=1e-3, atol=1e-3 * np.abs(cov).max())


@pytest.mark.parametrize("structure", sorted(SAS["kenward_roger_armcd"]))
@pytest.mark.parametrize("ddf", ["kenward-roger", "kenward-roger-linear"])
def test_kenward_roger_matches_sas(fev: pd.DataFrame, structure: str, ddf: str) -> None:
    """SAS's ddfm=kr takes the second derivatives of Sigma in its own parameters; ours are
    the same (the natural ones), so kr and kr(linear) both agree."""
    sas = SAS["kenward_roger_armcd"][structure][ddf]
    fit = mm.mmrm(f"FEV1 ~ ARMCD + {structure}(AVISIT | USUBJID)", fev)
    row = fit.coef_table(ddf).loc["ARMCD[T.TRT]"]
    assert abs(row["estimate"] - sas["estimate"]) < 1e-3 * sas["std_error"]
    assert row["std_error"] == pytest.approx(sas["std_error"], rel=1e-3)
    assert row["df"] == pytest.approx(sas["df"], rel=1e-2)


def test_second_derivative_term_matters_for_ar1(fev: pd.DataFrame) -> None:
    fit = mm.mmrm("FEV1 ~ ARMCD + ar1(AVISIT | USUBJID)", fev)
    full = fit.coef_table("kenward-roger").loc["ARMCD[T.TRT]", "std_error"]
    linear = fit.coef_table("kenward-roger-linear").loc["ARMCD[T.TRT]", "std_error"]
    sas = SAS["kenward_roger_armcd"]["ar1"]
    assert (full - linear) * (
        sas["kenward-roger"]["std_error"] - sas["kenward-roger-linear"]["std_error"]
    ) > 0


def test_type3_matches_sas(fev: pd.DataFrame) -> None:
    """F statistics and the one-df terms' df agree. A multi-df term's Satterthwaite df
    combines single-df contrasts that diagonalize ``L Phi L'`` (Fai & Cornelius 1996), and
    that combination depends on the basis of the hypothesis' rows: ours is the
    sum-to-zero basis lmerTest uses, SAS's comes from its own estimable functions. So the
    multi-df terms' df (ours 150.2 / 150.1, SAS 148 / 148) are compared loosely."""
    fit = mm.mmrm("FEV1 ~ ARMCD * AVISIT + RACE + SEX + us(AVISIT | USUBJID)", fev)
    table = fit.anova()
    names = {
        "ARMCD": "ARMCD",
        "AVISIT": "AVISIT",
        "ARMCD:AVISIT": "AVISIT*ARMCD",
        "RACE": "RACE",
        "SEX": "SEX",
    }
    assert set(table.index) == set(names)
    for ours, theirs in names.items():
        sas = SAS["type3_us_reml"][theirs]
        assert table.loc[ours, "numdf"] == sas["numdf"]
        # SAS prints df as integers and F to two decimals
        if sas["numdf"] == 1:
            assert abs(table.loc[ours, "dendf"] - sas["dendf"]) <= 0.5
        else:
            assert table.loc[ours, "dendf"] == pytest.approx(sas["dendf"], rel=0.02)
        # (and 1e-4 relative: SAS stops its REML iterations at its own criterion)
        assert abs(table.loc[ours, "F"] - sas["F"]) <= 0.005 + 1e-4 * sas["F"]


def test_missing_visits_kept_and_rows_dropped(fev: pd.DataFrame) -> None:
    fit = mm.mmrm("FEV1 ~ ARMCD + us(AVISIT | USUBJID)", fev)
    assert fit.nobs == int(fev["FEV1"].notna().sum())
    assert fit.visits == ("VIS1", "VIS2", "VIS3", "VIS4")
    assert len(fit.model.patterns) > 1
    assert "Covariance of the visits" in fit.summary()


def test_bad_input_is_named(fev: pd.DataFrame) -> None:
    with pytest.raises(ModelSpecError, match="unknown covariance structure 'unstr'"):
        mm.mmrm("FEV1 ~ ARMCD + unstr(AVISIT | USUBJID)", fev)
    with pytest.raises(ModelSpecError, match="needs a covariance term"):
        mm.mmrm("FEV1 ~ ARMCD", fev)
    with pytest.raises(ModelSpecError, match="one covariance term"):
        mm.mmrm("FEV1 ~ ARMCD + us(AVISIT | USUBJID) + cs(AVISIT | USUBJID)", fev)
    with pytest.raises(DataError, match="'VISIT'"):
        mm.mmrm("FEV1 ~ ARMCD + us(VISIT | USUBJID)", fev)
    twice = pd.concat([fev, fev.iloc[[1]]], ignore_index=True)
    with pytest.raises(DataError, match="subject 'PT1' has visit 'VIS2' twice"):
        mm.mmrm("FEV1 ~ ARMCD + us(AVISIT | USUBJID)", twice)
    few = fev.dropna(subset=["FEV1"]).head(12)
    with pytest.raises(DataError, match="covariance parameters, more than 12 rows"):
        mm.mmrm("FEV1 ~ ARMCD + us(AVISIT | USUBJID)", few)
    fit = mm.mmrm("FEV1 ~ ARMCD + cs(AVISIT | USUBJID)", fev, reml=False)
    with pytest.raises(ModelSpecError, match="REML"):
        fit.coef_table("kenward-roger")
    with pytest.raises(ValueError, match="ddf must be one of"):
        fit.coef_table("kr")
