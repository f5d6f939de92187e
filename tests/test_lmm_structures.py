"""Linear mixed models with residual correlation and variance structures (``mm.lmm(...,
correlation=, variance=)``) against nlme's ``lme`` (``tests/reference/lme_structures.R``,
``tests/reference/LME_README.md``), REML and ML, at issue 14's tolerances; their fitted
values on the data's scale; and their bad input."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import mixedmodels as mm
from lme4_reference import load_data, load_ovary, load_reference

MODELS: dict[str, tuple[str, Any, Any, Any]] = {
    "orthodont_ar1": (
        "distance ~ age + Sex + (1 | Subject)",
        lambda: load_data("Orthodont"),
        mm.corAR1(form="~ 1 | Subject"),
        None,
    ),
    "ovary_ar1": ("follicles ~ s + c + (1 | Mare)", load_ovary, mm.corAR1(form="~ 1 | Mare"), None),
    "bodyweight_car1_power": (
        "weight ~ Time * Diet + (Time | Rat)",
        lambda: load_data("BodyWeight"),
        mm.corCAR1(form="~ Time | Rat"),
        mm.varPower(form="~ Time"),
    ),
    "bodyweight_comb": (
        "weight ~ Time * Diet + (1 | Rat)",
        lambda: load_data("BodyWeight"),
        mm.corCAR1(form="~ Time | Rat"),
        mm.varComb(mm.varIdent(form="~ 1 | Diet"), mm.varPower(form="~ Time")),
    ),
    "orthodont_ident": (
        "distance ~ age + Sex + (1 | Subject)",
        lambda: load_data("Orthodont"),
        None,
        mm.varIdent(form="~ 1 | Sex"),
    ),
}


@pytest.mark.parametrize("method", ["REML", "ML"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_matches_nlme_lme(name: str, method: str) -> None:
    formula, data, correlation, variance = MODELS[name]
    ref = load_reference(f"lme_{name}")[method]
    fit = mm.lmm(formula, data(), correlation=correlation, variance=variance, reml=method == "REML")
    assert isinstance(fit, mm.StructuredLmmResult) and fit.converged
    assert fit.loglik >= ref["logLik"] - 1e-4 and abs(fit.loglik - ref["logLik"]) <= 1e-4
    se = np.array(list(ref["se"].values()))
    np.testing.assert_array_less(np.abs(fit.beta - np.array(list(ref["coef"].values()))), 1e-3 * se)
    np.testing.assert_allclose(fit.std_errors, se, rtol=1e-3)
    assert fit.sigma == pytest.approx(ref["sigma"], rel=1e-3)
    sd = fit.varcorr.sd_cor.to_numpy()
    want_sd = np.atleast_1d(ref["sd"])
    np.testing.assert_allclose(sd[: want_sd.size], want_sd, rtol=1e-3)
    if "cor" in ref:
        assert abs(sd[want_sd.size] - ref["cor"]) <= 1e-3
    for got, want in (
        (fit.correlation_params, ref.get("correlation")),
        (fit.variance_params, ref.get("variance")),
    ):
        if want is not None:
            np.testing.assert_allclose(
                list(got.values()), list(want.values()), rtol=1e-3, atol=1e-5
            )
    assert "Correlation structure" in fit.summary() or "Variance function" in fit.summary()


def test_fitted_values_are_on_the_datas_scale() -> None:
    """X beta + Z b with the data's matrices: with a variance function of one stratum (no
    parameters, no whitening) the fit is the plain LMM's, fitted values included."""
    data = load_data("Orthodont").assign(one="all")
    plain = mm.lmm("distance ~ age + Sex + (1 | Subject)", data)
    same = mm.lmm(
        "distance ~ age + Sex + (1 | Subject)", data, variance=mm.varIdent(form="~ 1 | one")
    )
    assert same.loglik == pytest.approx(plain.loglik, abs=1e-8)
    np.testing.assert_allclose(same.fitted, plain.fitted.to_numpy(), rtol=1e-9)
    ar1 = mm.lmm(
        "distance ~ age + Sex + (1 | Subject)", data, correlation=mm.corAR1(form="~ 1 | Subject")
    )
    np.testing.assert_allclose(ar1.fitted + ar1.residuals(), data["distance"], rtol=1e-12)
    # Phi is 0.06 here: the fit is nearly the plain LMM's, and so are its fitted values (had
    # they stayed on the whitened scale they would differ by the whole response)
    assert ar1.correlation_params["Phi"] < 0.1
    assert np.max(np.abs(ar1.fitted - plain.fitted.to_numpy())) < 0.1


def test_bad_input_is_named() -> None:
    data = load_data("Orthodont")
    f = "distance ~ age + (1 | Subject)"
    with pytest.raises(mm.ModelSpecError, match="'Patient' is not in the data"):
        mm.lmm(f, data, correlation=mm.corAR1(form="~ 1 | Patient"))
    with pytest.raises(
        mm.ModelSpecError, match=r"groups \(Sex\) lie in no grouping factor.*'Subject'"
    ):
        mm.lmm(f, data, correlation=mm.corAR1(form="~ 1 | Sex"))
    with pytest.raises(mm.ModelSpecError, match="prior weights"):
        mm.lmm(f, data.assign(w=1.0), weights="w", correlation=mm.corAR1(form="~ 1 | Subject"))
    twice = data.assign(t=np.where(data.index % 4 == 1, 8, data["age"]))
    with pytest.raises(mm.DataError, match="appears twice in one group"):
        mm.lmm(f, twice, correlation=mm.corAR1(form="~ t | Subject"))


def test_inner_fits_from_the_last_optimum_need_no_derivative_free_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each evaluation of the structure parameters fits theta from the last one's optimum.
    L-BFGS-B's line search gives up there (it starts at the optimum); the fit takes that
    stationary point instead of searching again with COBYQA (BodyWeight with CAR(1) and a
    power variance: 32 inner fits of 66 to 118 evaluations each went to COBYQA)."""
    from mixedmodels.lmm import structured_design

    optimizers: list[str] = []
    estimate = structured_design.estimate

    def recorded(*args: Any, **kwargs: Any) -> Any:
        out = estimate(*args, **kwargs)
        optimizers.append(out.info.optimizer)
        return out

    monkeypatch.setattr(structured_design, "estimate", recorded)
    formula, data, correlation, variance = MODELS["bodyweight_car1_power"]
    fit = mm.lmm(formula, data(), correlation=correlation, variance=variance, reml=False)
    assert fit.converged and len(optimizers) > 20
    assert not [name for name in optimizers if "COBYQA" in name]
