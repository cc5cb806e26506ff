"""Each test's tier is its folder: tests/unit, tests/acme, tests/integration, tests/e2e. The session
ends with the reliability summary (tests/reliability.py) when fault or bad-input tests ran."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability import LEDGER, mark_items

_TIERS = ("unit", "acme", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        tier = item.path.relative_to(root).parts[0]
        if tier in _TIERS:
            item.add_marker(getattr(pytest.mark, tier))
    mark_items(items)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    LEDGER.take(report)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = LEDGER.lines()
    if lines:
        terminalreporter.section("reliability")
        for line in lines:
            terminalreporter.write_line(line)
