"""Zero-inflated Poisson and negative binomial GLMMs (``zi=``) against glmmTMB's
``ziformula`` fits of Salamanders (``tests/reference/salamanders_zi.R``), at issue 13's
tolerances, and the zero-inflation model's bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedmodels as mm
from lme4_reference import load_data, load_reference, r_name


@pytest.mark.parametrize("family", ["poisson", "nbinom2"])
def test_salamanders_zero_inflated(family: str) -> None:
    ref = load_reference(f"salamanders_zi_{family}")
    want = ref["glmmTMB"]
    fit = mm.glmm(ref["formula"], load_data("Salamanders"), family=family, zi=ref["zi"])
    assert fit.loglik >= want["logLik"] - 1e-4 and abs(fit.loglik - want["logLik"]) <= 1e-4
    for ours, ses, fixef, se in (
        (fit.fixef, fit.std_errors, want["fixef"], want["se"]),
        (fit.zi_fixef, fit.zi_std_errors, want["zi_fixef"], want["zi_se"]),
    ):
        got = {r_name(k): v for k, v in ours.items()}
        got_se = {r_name(k): v for k, v in ses.items()}
        for name, value in fixef.items():
            key = name.removeprefix("zi~")
            se_want = se.get(name, se.get(f"zi~{name}"))
            assert abs(got[key] - value) <= 2e-3 * se_want, (name, got[key], value)
            assert got_se[key] == pytest.approx(se_want, rel=2e-3), name
    assert fit.varcorr.sd_cor.iloc[0] == pytest.approx(want["sd"], rel=2e-3)
    assert fit.dispersion == pytest.approx(want["dispersion"], rel=2e-3)
    modes = fit.ranef().set_index("level")["value"]
    for row in want["ranef"]:
        assert abs(modes[row["level"]] - row["value"]) <= 1e-3, row["level"]
    assert fit.n_params == len(fit.beta) + len(fit.theta) + 2 + int(family == "nbinom2")
    text = fit.summary()
    assert "Zero-inflation model" in text and "mined[T.no]" in text.split("Zero-inflation")[1]


def test_predictions_conditional_and_unconditional() -> None:
    """glmmTMB's prediction types: the count model's mean (``conditional``), the
    probability of a structural zero (``zprob``, from the zero-inflation coefficients) and
    the mean of y, ``(1 - pi) mu`` (``response``, also ``fitted``); residuals are about
    that mean, with the zero-inflated variance."""
    data = load_data("Salamanders")
    fit = mm.glmm("count ~ mined + (1 | site)", data, family="nbinom2", zi="~ mined")
    mu = fit.predict(type="conditional").to_numpy()
    np.testing.assert_allclose(np.log(mu), fit.predict(type="link"), rtol=1e-12)
    zi = fit.zi_fixef.to_numpy()
    zlink = zi[0] + zi[1] * (data["mined"] == "no").to_numpy()
    np.testing.assert_allclose(fit.predict(type="zlink"), zlink, rtol=1e-12)
    pi = 1.0 / (1.0 + np.exp(-zlink))
    np.testing.assert_allclose(fit.predict(type="zprob"), pi, rtol=1e-12)
    mean = (1.0 - pi) * mu
    np.testing.assert_allclose(fit.predict(type="response"), mean, rtol=1e-12)
    np.testing.assert_allclose(fit.fitted, mean, rtol=1e-12)
    y = data["count"].to_numpy()
    np.testing.assert_allclose(fit.residuals("response"), y - mean, rtol=1e-12)
    theta = fit.dispersion
    variance = (1.0 - pi) * (mu + mu**2 / theta + pi * mu**2)
    np.testing.assert_allclose(fit.residuals("pearson"), (y - mean) / np.sqrt(variance))
    np.testing.assert_allclose(fit.predict(type="disp"), theta)
    with pytest.raises(mm.ModelSpecError, match="no deviance residuals"):
        fit.residuals()
    with pytest.raises(ValueError, match="'zprob'"):
        fit.predict(type="probability")
    # without zero inflation, the response is the conditional mean and pi is 0
    plain = mm.glmm("count ~ mined + (1 | site)", data, family="poisson")
    np.testing.assert_allclose(plain.predict(type="response"), plain.predict(type="conditional"))
    assert np.all(plain.predict(type="zprob") == 0.0)


def test_zero_inflation_bad_input() -> None:
    rng = np.random.default_rng(5)
    data = pd.DataFrame(
        {"y": rng.poisson(3.0, 80) + 1, "x": rng.normal(size=80), "g": np.repeat(range(8), 10)}
    )
    with pytest.raises(mm.DataError, match="'y' has no zeros"):
        mm.glmm("y ~ x + (1 | g)", data, family="poisson", zi="~ 1")
    data.loc[:10, "y"] = 0
    with pytest.raises(mm.ModelSpecError, match="count families, not Gamma"):
        mm.glmm("y ~ x + (1 | g)", data.assign(y=data.y + 0.5), family="Gamma", zi="~ 1")
    with pytest.raises(mm.ModelSpecError, match="one-sided formula"):
        mm.glmm("y ~ x + (1 | g)", data, family="poisson", zi="x")
    with pytest.raises(mm.MixedModelsError, match="nowhere"):
        mm.glmm("y ~ x + (1 | g)", data, family="poisson", zi="~ nowhere")


@pytest.mark.parametrize("base", ["poisson", "nbinom2"])
def test_zero_inflated_derivatives_match_differences(base: str) -> None:
    from mixedmodels.glmm.family import family
    from mixedmodels.glmm.zeroinflation import ZeroInflated

    count = family(base).with_dispersion(1.5)
    y = np.array([0.0, 0.0, 3.0, 1.0])
    zi = ZeroInflated(count.link, count, np.array([0.2, 0.5, 0.3, 0.1]))
    eta, w, h = np.array([0.3, -0.5, 1.0, 0.2]), np.ones(4), 1e-4

    def loglik(e: np.ndarray) -> np.ndarray:
        return zi.kernel(y, zi.linkinv(e), w)

    mu = zi.linkinv(eta)
    first = (loglik(eta + h) - loglik(eta - h)) / (2 * h)
    second = (loglik(eta + h) - 2 * loglik(eta) + loglik(eta - h)) / h**2
    np.testing.assert_allclose(zi.score(y, eta, mu, w), first, rtol=1e-6)
    np.testing.assert_allclose(zi.observed_weights(y, eta, mu, w), -second, rtol=1e-5)
    # a zero has probability pi + (1 - pi) f(0); the probabilities of all counts sum to 1
    grid = np.arange(400.0)
    total = np.exp(
        ZeroInflated(count.link, count, np.full(400, 0.3)).kernel(
            grid, np.full(400, 2.0), np.ones(400)
        )
    ).sum()
    assert total == pytest.approx(1.0, abs=1e-10)
