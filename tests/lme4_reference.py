"""Compare a mixedmodels fit with an lme4 reference file, at the kit's tolerances.

The tolerances are those of tests/reference/LME4_README.md:
criterion within 1e-4 (or lower); fixed effects within 1e-3 SE; SEs, sigma, SDs 1e-3
relative; correlations 1e-3 absolute; ranef and fitted 1e-3 x sigma; cond SDs 1e-3 relative.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import mixedmodels as mm

REFERENCE = Path(__file__).parent / "reference"


def r_name(name: str) -> str:
    """Our column name written as R writes it: ``recipe[T.B]`` -> ``recipeB``."""
    name = re.sub(r"\[T\.([^\]]+)\]", r"\1", name)
    name = re.sub(r"\[([^\]]+)\]", r"\1", name)
    return name.replace(" ** ", "^").replace("**", "^")


def load_reference(case: str) -> dict[str, Any]:
    return json.loads((REFERENCE / f"{case}.json").read_text())


def load_data(name: str) -> pd.DataFrame:
    if name.lower() in {n.lower() for n in mm.datasets.names()}:
        return mm.datasets.load(name)
    folder = REFERENCE / "data"
    frame = pd.read_csv(folder / f"{name}.csv")
    levels = json.loads((folder / f"{name}.levels.json").read_text())
    for column, order in levels.items():
        frame[column] = pd.Categorical(frame[column].astype(str), categories=order)
    return frame


def load_ovary() -> pd.DataFrame:
    """nlme's Ovary with the columns its formulas write as ``sin(2*pi*Time)`` and
    ``cos(2*pi*Time)`` (``s`` and ``c``)."""
    data = load_data("Ovary")
    return data.assign(s=np.sin(2 * np.pi * data["Time"]), c=np.cos(2 * np.pi * data["Time"]))


def fit_reference(ref: dict[str, Any]) -> mm.LmmResult:
    data = load_data(ref["dataset"])
    kwargs: dict[str, Any] = {"reml": bool(ref["REML"])}
    if ref.get("weights"):
        kwargs["weights"] = ref["weights"]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.SingularFitWarning)
        return mm.lmm(ref["formula"], data, **kwargs)


def check_ranef(got: pd.DataFrame, reference: dict[str, Any], atol: float) -> None:
    """Conditional modes within ``atol`` and conditional SDs within 1e-3 relative, matched
    by (group, term, level), every reference row present."""
    want = pd.DataFrame(
        {
            "group": reference["group"],
            "term": reference["term"],
            "level": reference["level"],
            "value": reference["value"],
            "condsd": reference["condsd"],
        }
    )
    got = got.assign(term=got["term"].map(r_name))
    merged = want.merge(got, on=["group", "term", "level"], how="left")
    assert merged["value_y"].notna().all(), merged[merged["value_y"].isna()].head()
    assert len(got) == len(want)
    np.testing.assert_allclose(merged["value_y"], merged["value_x"], rtol=0, atol=atol)
    np.testing.assert_allclose(merged["cond_sd"], merged["condsd"], rtol=1e-3, atol=1e-12)


def check_against_lme4(fit: mm.LmmResult, ref: dict[str, Any]) -> None:
    """Assert every quantity of the reference within its tolerance."""
    # criterion: within 1e-4, or lower (a better optimum)
    assert fit.objective <= ref["criterion"] + 1e-4, (fit.objective, ref["criterion"])
    assert fit.objective >= ref["criterion"] - 1e-2, "far below lme4: check the objective"
    assert fit.nobs == ref["nobs"]
    assert fit.is_singular == bool(ref["singular"])
    sigma = ref["sigma"]
    assert abs(fit.sigma - sigma) <= 1e-3 * sigma
    ours = {r_name(k): v for k, v in fit.fixef.items()}
    ses = {r_name(k): v for k, v in fit.std_errors.items()}
    assert set(ours) == set(ref["fixef"]), (sorted(ours), sorted(ref["fixef"]))
    for name, value in ref["fixef"].items():
        se = ref["se"][name]
        assert abs(ours[name] - value) <= 1e-3 * se, (name, ours[name], value)
        assert abs(ses[name] - se) <= 1e-3 * se, (name, ses[name], se)
    assert abs(fit.loglik - ref["logLik"]) <= 1e-4
    assert abs(fit.aic - ref["AIC"]) <= 1e-4
    assert abs(fit.bic - ref["BIC"]) <= 1e-4
    assert {k: int(v) for k, v in fit.ngroups.items()} == {
        k: int(v) for k, v in ref["ngrps"].items()
    }
    # varcorr: same rows in the same order
    vc = fit.varcorr
    assert len(vc) == len(ref["varcorr"])
    for row, want in zip(vc.itertuples(), ref["varcorr"], strict=True):
        assert row.group == want["grp"]
        assert (row.term1 is None) == (want["var1"] is None)
        if want["var1"] is not None:
            assert r_name(row.term1) == want["var1"]
        assert (row.term2 is None) == (want.get("var2") is None)
        if want.get("var2") is not None:
            assert r_name(row.term2) == want["var2"]
            assert abs(row.sd_cor - want["sdcor"]) <= 1e-3  # correlation, absolute
        elif want["sdcor"] == 0:
            assert row.sd_cor <= 1e-3 * ref["sigma"]
        else:
            assert abs(row.sd_cor - want["sdcor"]) <= 1e-3 * want["sdcor"]
    check_ranef(fit.ranef(), ref["ranef"], atol=1e-3 * sigma)
    if "fitted" in ref:
        np.testing.assert_allclose(
            fit.fitted.dropna().to_numpy(), ref["fitted"], rtol=0, atol=1e-3 * sigma
        )
    theta = np.atleast_1d(ref["theta"])
    assert list(fit.theta_names) == [r_name(n) for n in ref["theta_names"]] or len(
        fit.theta_names
    ) == len(theta)
