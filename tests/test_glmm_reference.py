"""Every glmer case of the reference fixtures, at the kit's tolerances.

Two documented differences from lme4's default output, both checked rather than skipped:

* nAGQ > 1: lme4 reports logLik relative to the saturated model (lme4 issues #161, #567),
  so its value plus the saturated log-likelihood must equal ours.
* nAGQ = 1: with its default PIRLS tolerance lme4 takes the Laplace log-determinant from
  the factor made before the last PIRLS update (lme4 issues #998, #289), which moves its
  optimum slightly. The exact Laplace optimum is what lme4 finds with
  glmerControl(tolPwrss = 1e-12), and what glmmTMB finds (on canonical links); the
  fixtures' "tight" fields hold both, and we match them at the kit's tolerances. Where
  lme4's optimizer stopped short (it warned) and glmmTMB reached a higher likelihood, the
  fixed effects are compared with glmmTMB's. Against default lme4 our log-likelihood must
  be as high or higher (a better optimum of the same approximation).
"""

from __future__ import annotations

import csv
import warnings
from typing import Any

import numpy as np
import pytest

import mixedmodels as mm
from lme4_reference import REFERENCE, check_ranef, load_data, load_reference, r_name
from mixedmodels.glmm.family import family as get_family


def _cases() -> list[str]:
    out = []
    for file in ("cases.tsv", "cases_glmm.tsv"):
        path = REFERENCE / file
        if path.exists():
            with path.open() as fh:
                out += [r["id"] for r in csv.DictReader(fh, delimiter="\t") if r["kind"] == "glmer"]
    return out


def _family(ref: dict[str, Any]) -> tuple[str, str | None]:
    text = ref["family"]
    name = "poisson" if text.startswith("poisson") else "binomial"
    return name, ref.get("link")


def fit_glmer_case(ref: dict[str, Any]) -> mm.GlmmResult:
    name, link = _family(ref)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.ConvergenceWarning)
        return mm.glmm(
            ref["formula"], load_data(ref["dataset"]), family=name, link=link, nagq=int(ref["nAGQ"])
        )


def saturated_loglik(fit: mm.GlmmResult) -> float:
    y = fit._y[~np.isnan(fit._y)]
    w = fit._prior[~np.isnan(fit._prior)]
    fam = get_family(fit.family, fit.link)
    return float(np.sum(fam.log_likelihood(y, np.clip(y, 1e-300, None), w)))


def check(fit: mm.GlmmResult, want: dict[str, Any], loglik: float) -> None:
    assert abs(fit.loglik - loglik) <= 1e-3, (fit.loglik, loglik)
    ours = {r_name(k): v for k, v in fit.fixef.items()}
    ses = {r_name(k): v for k, v in fit.std_errors.items()}
    assert set(ours) == set(want["fixef"])
    for name, value in want["fixef"].items():
        se = want["se"][name]
        assert abs(ours[name] - value) <= 1e-3 * se, (name, ours[name], value, se)
        assert abs(ses[name] - se) <= 1e-3 * se, (name, ses[name], se)
    theta = np.atleast_1d(want["theta"])
    np.testing.assert_allclose(fit.theta, theta, rtol=1e-3, atol=1e-4)
    for row, vc in zip(fit.varcorr.itertuples(), want["varcorr"], strict=True):
        assert row.group == vc["grp"]
        tol = 1e-3 if vc.get("var2") is not None else 1e-3 * abs(vc["sdcor"])
        assert abs(row.sd_cor - vc["sdcor"]) <= max(tol, 1e-6), (row, vc)
    check_ranef(fit.ranef(), want["ranef"], atol=1e-3)  # link scale
    if "fitted_link" in want:
        np.testing.assert_allclose(
            fit.predict(type="link").dropna(), want["fitted_link"], rtol=0, atol=1e-3
        )


@pytest.mark.parametrize("case", _cases())
def test_matches_lme4(case: str) -> None:
    ref = load_reference(case)
    fit = fit_glmer_case(ref)
    assert fit.nobs == ref["nobs"]
    assert fit.is_singular == bool(ref["singular"])
    if int(ref["nAGQ"]) > 1:
        # lme4's logLik omits the saturated model's log-likelihood for nAGQ > 1
        check(fit, ref, ref["logLik"] + saturated_loglik(fit))
    else:
        assert fit.loglik >= ref["logLik"] - 1e-4  # as good an optimum as lme4's, or better
        tight = ref["tight"]
        want = {**tight}
        tmb = tight["glmmTMB"]
        canonical = ref.get("link") in ("logit", "log")
        if canonical and tmb["logLik"] > tight["logLik"] + 1e-7:
            # lme4 stopped short of the optimum (it warned; see the fixture's caveat) and
            # glmmTMB, computing the same exact Laplace approximation, went further
            want["fixef"], want["se"] = tmb["fixef"], tmb["se"]
        check(fit, want, max(tight["logLik"], tmb["logLik"] if canonical else -np.inf))
        if canonical:
            # glmmTMB is an independent implementation of the same approximation; for
            # probit and cloglog it uses the observed information in the log-determinant,
            # lme4 (and we) the expected information, so it is compared on canonical links
            ours = {r_name(k): v for k, v in fit.fixef.items()}
            for name, value in tmb["fixef"].items():
                assert abs(ours[name] - value) <= 1e-3 * tmb["se"][name]
