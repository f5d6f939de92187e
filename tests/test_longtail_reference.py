"""Long-tailed crossed designs (``benchmarks/crossed_longtail.py``) against lme4.

The reference is lme4's REML fit with its default settings, written by
``tests/reference/longtail_lme4.R`` from the CSV that ``tests/reference/longtail_data.py``
writes (see ``tests/reference/LONGTAIL_README.md``): the 2,000-item design, 300,000
rows, in the fast tier. For the 7,800- and 17,000-item designs, whose lmer fits take
hours, ``tests/reference/longtail_lme4_devfun.R`` evaluates lme4's own REML criterion at
theta and around it; their fits run in the full tier.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import mixedmodels as mm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import crossed_longtail  # noqa: E402

from tiers import full_tier  # noqa: E402

REFERENCE = json.loads((ROOT / "tests" / "reference" / "longtail_lme4.json").read_text())
AROUND = json.loads((ROOT / "tests" / "reference" / "longtail_lme4_devfun.json").read_text())
#: The designs whose lme4 reference is the criterion at theta (an lmer fit takes hours).
LARGER = ["longtail_8k", "longtail_17k"]


@pytest.mark.parametrize(("preset", "kind"), [("longtail_2k", "dense")])
def test_a_long_tailed_crossed_fit_reproduces_lme4(preset: str, kind: str) -> None:
    ref = REFERENCE[preset]
    data = crossed_longtail.make(*crossed_longtail.PRESETS[preset])
    fit = mm.lmm("y ~ x + (1 | subj) + (1 | item)", data, reml=True)
    assert fit.model.workspace.tail_kind.name == kind
    assert (fit.nobs, ref["rows"]) == (len(data), len(data))
    # the kit's tolerances: the criterion within 1e-4 or lower, the SDs and sigma 1e-3
    # relative, the fixed effects within 1e-3 of their standard errors
    assert fit.objective <= ref["criterion"] + 1e-4
    assert fit.objective == pytest.approx(ref["criterion"], rel=1e-9)
    np.testing.assert_allclose(fit.theta, ref["theta"], rtol=1e-3)
    assert fit.sigma == pytest.approx(ref["sigma"], rel=1e-3)
    se = np.sqrt(np.diag(fit.vcov))
    assert np.all(np.abs(np.asarray(fit.beta) - ref["fixef"]) <= 1e-3 * se)


@pytest.mark.parametrize("preset", LARGER)
def test_lme4s_criterion_is_lowest_at_the_reference_theta(preset: str) -> None:
    """The reference itself: each coordinate of theta moved by 1e-4 relative, either way,
    raises lme4's REML criterion, so theta is a minimum of lme4's criterion (to that
    precision)."""
    ref = AROUND[preset]
    assert len(ref["moved"]) == 4
    for moved in ref["moved"]:
        assert moved["criterion"] > ref["criterion"], moved


@full_tier
@pytest.mark.parametrize("preset", LARGER)
def test_larger_long_tailed_fits_reach_lme4s_minimum(preset: str) -> None:
    """The sparse tail's fit ends where lme4's criterion is lowest, with lme4's value of
    the criterion there."""
    ref = AROUND[preset]
    data = crossed_longtail.make(*crossed_longtail.PRESETS[preset])
    fit = mm.lmm("y ~ x + (1 | subj) + (1 | item)", data, reml=True)
    assert fit.model.workspace.tail_kind.name == "sparse"
    assert (fit.nobs, fit.ngroups["item"]) == (ref["rows"], ref["items"])
    # within a tenth of the step at which lme4's criterion was seen to rise either way
    np.testing.assert_allclose(fit.theta, ref["theta"], rtol=1e-5)
    assert fit.objective == pytest.approx(ref["criterion"], rel=1e-9)
