"""Dispersion models (``dispersion="~ x"``, glmmTMB's ``dispformula``) and the beta family,
against glmmTMB's fits (``tests/reference/beta_dispformula.R``, described in
``tests/reference/BETA_DISP_README.md``) at issue 13's tolerances, and their bad input."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import mixedmodels as mm
from lme4_reference import load_data, load_reference, r_name

SLEEP = "Reaction ~ Days + (1 | Subject)"


def test_an_intercept_only_dispersion_model_is_one_dispersion() -> None:
    data = mm.datasets.load("sleepstudy")
    one = mm.glmm(SLEEP, data, family="gaussian")
    model = mm.glmm(SLEEP, data, family="gaussian", dispersion="~ 1")
    assert model.loglik == one.loglik and model.dispersion == one.dispersion
    assert model.disp_fixef.empty and model.n_params == one.n_params


def test_per_row_dispersion_and_its_coefficients() -> None:
    """``fit.dispersion`` is sigma() per row (NaN where a row was dropped), the
    coefficients are log phi's (phi the Gaussian variance: sigma^2), and every parameter
    counts."""
    data = mm.datasets.load("sleepstudy").copy()
    data.loc[3, "Reaction"] = np.nan
    fit = mm.glmm(SLEEP, data, family="gaussian", dispersion="~ Days")
    sigma = np.asarray(fit.dispersion)
    assert sigma.shape == (len(data),) and np.isnan(sigma[3])
    delta = fit.disp_fixef.to_numpy()
    kept = np.arange(len(data)) != 3
    np.testing.assert_allclose(
        sigma[kept] ** 2, np.exp(delta[0] + delta[1] * data["Days"].to_numpy()[kept])
    )
    np.testing.assert_allclose(fit.predict(type="disp").to_numpy()[kept], sigma[kept])
    assert fit.n_params == 2 + 1 + 2
    table = fit.disp_coef_table()
    assert list(table.index) == ["(Intercept)", "Days"] and np.all(table.std_error > 0)
    assert "Dispersion model" in fit.summary()
    # Pearson residuals divide by each row's own sigma
    resid = (data["Reaction"] - fit.fitted).to_numpy()
    np.testing.assert_allclose(fit.residuals("pearson").to_numpy()[kept], resid[kept] / sigma[kept])


def test_dispersion_model_bad_input() -> None:
    data = mm.datasets.load("sleepstudy")
    with pytest.raises(mm.MixedModelsError, match="dispersion formula.*nowhere"):
        mm.glmm(SLEEP, data, family="gaussian", dispersion="~ nowhere")
    with pytest.raises(mm.ModelSpecError, match="one-sided formula"):
        mm.glmm(SLEEP, data, family="gaussian", dispersion="Days")
    with pytest.raises(mm.ModelSpecError, match="aliased columns"):
        mm.glmm(SLEEP, data, family="gaussian", dispersion="~ Days + I(2 * Days)")
    counts = data.assign(Reaction=data["Reaction"].round())
    with pytest.raises(mm.ModelSpecError, match="poisson family has no dispersion"):
        mm.glmm(SLEEP, counts, family="poisson", dispersion="~ Days")
    with_gap = data.assign(z=np.where(data.index == 5, np.nan, data["Days"]))
    with pytest.raises(mm.MixedModelsError, match="`z` contains null"):
        mm.glmm(SLEEP, with_gap, family="gaussian", dispersion="~ z")


CASES = [
    "beta_logit",
    "beta_disp",
    "gamma_disp",
    "sleepstudy_disp",
    "owls_nbinom1_disp",
    "salamanders_nb2_disp",
]


@pytest.fixture(scope="module", params=CASES)
def case(request: pytest.FixtureRequest) -> tuple[dict[str, Any], mm.GlmmResult]:
    ref = load_reference(request.param)
    if ref["dataset"] == "sleepstudy":
        data = mm.datasets.load("sleepstudy")
        np.testing.assert_allclose(data["Reaction"].head(3), ref["check_rows"])
    else:
        data = load_data(ref["dataset"])
    with warnings.catch_warnings():
        warnings.simplefilter("error", mm.ConvergenceWarning)
        fit = mm.glmm(
            ref["formula"],
            data,
            family=ref["family"],
            link=ref.get("link"),
            dispersion=ref.get("dispformula") or None,
        )
    return ref, fit


def test_matches_glmmtmb(case: tuple[dict[str, Any], mm.GlmmResult]) -> None:
    """logLik within 1e-4 (and not below), fixed effects within 2e-3 SE, SEs, the SD and
    the dispersion (or its model's coefficients) within 2e-3 relative."""
    ref, fit = case
    want = ref["glmmTMB"]
    assert want["pdHess"]
    assert fit.loglik >= want["logLik"] - 1e-4 and abs(fit.loglik - want["logLik"]) <= 1e-4
    pairs = [(fit.fixef, fit.std_errors, want["fixef"], want["se"])]
    if ref.get("dispformula") or None:
        pairs.append((fit.disp_fixef, fit.disp_std_errors, want["disp_fixef"], want["disp_se"]))
    else:
        assert fit.dispersion == pytest.approx(want["dispersion"], rel=2e-3)
    for ours, ses, fixef, se in pairs:
        got = {r_name(k): v for k, v in ours.items()}
        got_se = {r_name(k): v for k, v in ses.items()}
        assert set(got) == set(fixef)
        for name, value in fixef.items():
            assert abs(got[name] - value) <= 2e-3 * se[name], (name, got[name], value)
            assert got_se[name] == pytest.approx(se[name], rel=2e-3), name
    assert fit.varcorr.sd_cor.iloc[0] == pytest.approx(want["sd"], rel=2e-3)


def test_dispersion_per_row(case: tuple[dict[str, Any], mm.GlmmResult]) -> None:
    """The dispersion parameter of the first rows, in glmmTMB's fit and ours (the
    fixture states each family's relation of phi to the dispersion model)."""
    ref, fit = case
    phi = fit._family.dispersion_of_sigma(np.asarray(fit.dispersion, dtype=float))
    got = np.broadcast_to(
        phi, (len(ref["glmmTMB"]["phi_rows"]),) if np.ndim(phi) == 0 else phi.shape
    )
    np.testing.assert_allclose(
        got[: len(ref["glmmTMB"]["phi_rows"])], ref["glmmTMB"]["phi_rows"], rtol=4e-3
    )


def test_conditional_modes(case: tuple[dict[str, Any], mm.GlmmResult]) -> None:
    """Modes within 1e-3 on the link scale. glmmTMB's conditional SDs (its sdreport) add
    the parameters' uncertainty to the curvature at the modes, which ours are alone, so
    ours can only be smaller (on Salamanders, where a site with few counts leans on the
    dispersion model's coefficients, by up to 40 %)."""
    ref, fit = case
    modes = fit.ranef().set_index("level")
    for row in ref["glmmTMB"]["ranef"]:
        assert abs(modes.loc[row["level"], "value"] - row["value"]) <= 1e-3, row["level"]
        cond_sd = modes.loc[row["level"], "cond_sd"]
        assert 0 < cond_sd <= row["condsd"] * (1 + 2e-3), row["level"]
