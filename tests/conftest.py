import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from tiers import FULL, TIER  # noqa: E402


def pytest_report_header(config: pytest.Config) -> str:
    if FULL:
        return "test tier: full (everything, as CI runs it)"
    return "test tier: fast (MIXEDMODELS_TEST_TIER=full adds the full tier's tests)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Outside the full tier, the tests marked ``full_tier`` are deselected (not
    skipped: they are not run, and the summary counts them as deselected)."""
    if FULL:
        return
    kept, left = [], []
    for item in items:
        (left if item.get_closest_marker("full_tier") else kept).append(item)
    if left:
        config.hook.pytest_deselected(items=left)
        items[:] = kept


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(f"test tier: {TIER}")
