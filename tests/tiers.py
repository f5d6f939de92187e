"""The test tiers: the fast tier (the default, for day-to-day work) and the full tier
(``MIXEDMODELS_TEST_TIER=full``, as CI runs it), which adds the browser tests, the load
test, the long simulation studies and the larger property-test and optimum samples."""

from __future__ import annotations

import os

import pytest

TIER = os.environ.get("MIXEDMODELS_TEST_TIER", "fast")
if TIER not in ("fast", "full"):
    raise RuntimeError(f"MIXEDMODELS_TEST_TIER must be 'fast' or 'full', not {TIER!r}")
FULL = TIER == "full"

#: Marks a test (or a module, as ``pytestmark``) that runs in the full tier only.
full_tier = pytest.mark.full_tier


def by_tier(fast: int, full: int) -> int:
    """A sample size by tier (property-test examples, seeds of a simulation)."""
    return full if FULL else fast
