"""Dispersion models (``dispersion="~ x"``, glmmTMB's ``dispformula``) and the beta family,
against glmmTMB's fits (``tests/reference/beta_dispformula.R``, described in
``tests/reference/BETA_DISP_README.md``) at issue 13's tolerances, and their bad input."""

from __future__ import annotations

import numpy as np
import pytest

import mixedmodels as mm

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
    np.testing.assert_allclose(fit.predict("disp").to_numpy()[kept], sigma[kept])
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
