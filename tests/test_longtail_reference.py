"""Long-tailed crossed designs (``benchmarks/crossed_longtail.py``) against lme4.

The reference is lme4's REML fit with its default settings, written by
``tests/reference/longtail_lme4.R`` from the CSV that ``tests/reference/longtail_data.py``
writes (see ``tests/reference/LONGTAIL_README.md``): the 2,000-item design, 300,000
rows, in the fast tier.
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

REFERENCE = json.loads((ROOT / "tests" / "reference" / "longtail_lme4.json").read_text())


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
