"""Each test's tier is its folder: tests/unit, tests/acme, tests/integration, tests/e2e."""

from __future__ import annotations

from pathlib import Path

import pytest

_TIERS = ("unit", "acme", "integration", "e2e")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    root = Path(__file__).parent
    for item in items:
        tier = item.path.relative_to(root).parts[0]
        if tier in _TIERS:
            item.add_marker(getattr(pytest.mark, tier))
