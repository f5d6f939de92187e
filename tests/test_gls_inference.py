"""Small-sample inference of ``mm.gls``: Satterthwaite's and Kenward-Roger's df and the
adjusted SEs, in SAS's parameters, against R's mmrm and SAS PROC MIXED on mmrm's FEV data.

A gls with ``corAR1`` within subjects is mmrm's and SAS's ``ar1`` model, and nlme's
natural parameters (sigma^2, Phi) are SAS's (the residual variance and rho), so the
Kenward-Roger adjustment, which depends on the parametrization through the second
derivatives of the covariance, is the same one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm

REF = Path(__file__).parent / "reference"
MMRM = json.loads((REF / "mmrm_fev.json").read_text())
SAS = json.loads((REF / "mmrm_sas.json").read_text())


@pytest.fixture(scope="module")
def fev() -> pd.DataFrame:
    data = pd.read_csv(REF / "data" / "fev_data.csv")
    levels = json.loads((REF / "data" / "fev_data.levels.json").read_text())
    for column, order in levels.items():
        data[column] = pd.Categorical(data[column].astype(str), categories=order)
    data = data.dropna(subset=["FEV1"]).reset_index(drop=True)
    data["visit"] = data["AVISIT"].cat.codes + 1  # VIS1..VIS4 as positions 1..4
    return data


@pytest.mark.parametrize("reml", [True, False])
def test_satterthwaite_matches_mmrm_ar1(fev: pd.DataFrame, reml: bool) -> None:
    case = next(f for f in MMRM["fits"] if f["structure"] == "ar1" and f["reml"] == reml)
    fit = mm.gls(MMRM["formula"], fev, correlation=mm.corAR1(form="~ visit | USUBJID"), reml=reml)
    assert abs(fit.loglik - case["loglik"]) < 1e-4
    table = fit.coef_table("satterthwaite")
    table.index = [n.replace("[T.", "").replace("]", "") for n in table.index]
    table = table.loc[case["names"]]
    se = np.array(case["std_error"])
    np.testing.assert_array_less(np.abs(table["estimate"] - case["estimate"]) / se, 1e-3)
    np.testing.assert_allclose(table["std_error"], se, rtol=1e-3)
    np.testing.assert_allclose(table["df"], case["df"], rtol=1e-3)


def test_kenward_roger_matches_sas_ar1(fev: pd.DataFrame) -> None:
    fit = mm.gls("FEV1 ~ ARMCD", fev, correlation=mm.corAR1(form="~ visit | USUBJID"))
    sas = SAS["kenward_roger_armcd"]["ar1"]["kenward-roger"]
    row = fit.coef_table("kenward-roger").loc["ARMCD[T.TRT]"]
    assert abs(row["estimate"] - sas["estimate"]) < 1e-3 * sas["std_error"]
    assert row["std_error"] == pytest.approx(sas["std_error"], rel=1e-4)
    assert row["df"] == pytest.approx(sas["df"], rel=1e-4)
    # the second derivatives of the covariance in Phi take more than the other terms
    # add, so the adjusted SE is below the unadjusted one, as in SAS (kr(linear): 0.96058)
    assert row["std_error"] < fit.coef_table().loc["ARMCD[T.TRT]", "std_error"]


def test_kenward_roger_depends_on_the_parametrization(fev: pd.DataFrame) -> None:
    """nlme's corCompSymm has (sigma^2, Rho); SAS's type=cs has (the covariance, the
    residual variance), linear in V. The df are invariant to the choice, the adjusted SE
    is not (the second-derivative term): it differs by 6.5e-5 relative."""
    fit = mm.gls("FEV1 ~ ARMCD", fev, correlation=mm.corCompSymm(form="~ 1 | USUBJID"))
    sas = SAS["kenward_roger_armcd"]["cs"]["kenward-roger"]
    row = fit.coef_table("kenward-roger").loc["ARMCD[T.TRT]"]
    assert row["df"] == pytest.approx(sas["df"], rel=1e-5)
    assert row["std_error"] == pytest.approx(sas["std_error"], rel=1e-4)
    assert abs(row["std_error"] / sas["std_error"] - 1.0) > 3e-5


def test_exact_hessian_is_the_criterions(fev: pd.DataFrame) -> None:
    """W comes from the Hessian in closed form; central differences of the criterion
    with a large step agree with it."""
    from mixedmodels.inference.dense_covariance import dense_pieces

    fit = mm.gls("FEV1 ~ ARMCD", fev, correlation=mm.corAR1(form="~ visit | USUBJID"))
    model = fit._dense()  # type: ignore[misc]
    _, kr = dense_pieces(model)
    x, k = model.nu, model.nu.size
    h = 1e-3 * np.maximum(np.abs(x), 1.0)
    H = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * h[i], np.eye(k)[j] * h[j]
            H[i, j] = (
                model.criterion(x + ei + ej)
                - model.criterion(x + ei - ej)
                - model.criterion(x - ei + ej)
                + model.criterion(x - ei - ej)
            ) / (4 * h[i] * h[j])
    np.testing.assert_allclose(kr.W, 2.0 * np.linalg.inv(H), rtol=1e-4)


def test_ddf_choices_are_checked(fev: pd.DataFrame) -> None:
    ml = mm.gls("FEV1 ~ ARMCD", fev, correlation=mm.corAR1(form="~ visit | USUBJID"), reml=False)
    with pytest.raises(mm.ModelSpecError, match="Kenward-Roger is defined for REML"):
        ml.coef_table("kenward-roger")
    with pytest.raises(ValueError, match="ddf must be"):
        ml.coef_table("containment")


@pytest.mark.parametrize("refit", [True, False])
def test_anova_between_gls_fits(refit: bool) -> None:
    """mm.anova refits REML fits by ML (as lme4 does; nlme's anova of ML fits gives the
    same), or with refit=False compares the REML likelihoods as nlme's anova of REML fits
    with the same fixed effects (tests/reference/gls_anova.R)."""
    from lme4_reference import load_ovary, load_reference

    ref = load_reference("gls_anova")["ml" if refit else "reml"]
    data = load_ovary()
    formula = "follicles ~ sin(2*pi*Time) + cos(2*pi*Time)"
    independent = mm.gls(formula, data)
    ar1 = mm.gls(formula, data, correlation=mm.corAR1(form="~ 1 | Mare"))
    table = mm.anova(independent, ar1, refit=refit)
    np.testing.assert_allclose(table["loglik"], ref["loglik"], atol=1e-4)
    assert table["npar"].tolist() == ref["df"]
    assert table["chisq"].iloc[1] == pytest.approx(ref["ratio"], abs=2e-4)
