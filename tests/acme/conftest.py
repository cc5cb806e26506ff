"""The acme tier: the client against a real Pebble over HTTPS (validation sleep off, 5 % nonce rejection)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from certwright.acme.client import AcmeClient
from certwright_env import AcmeEnvironment

from .flows import new_client

_STACKS: list[AcmeEnvironment] = []


def start(**options: Any) -> AcmeEnvironment:
    stack = AcmeEnvironment(**options)
    stack.start()
    _STACKS.append(stack)
    return stack


@pytest.fixture(scope="session")
def pebble() -> Iterator[AcmeEnvironment]:
    """Pebble as the environment runs it: profiles, ARI, Retry-After on orders and authorizations."""
    stack = start()
    yield stack
    stack.stop()
    stack.remove_run_dir()


@pytest.fixture
def client(pebble: AcmeEnvironment) -> AcmeClient:
    """A registered account on the shared Pebble."""
    acme = new_client(pebble)
    acme.register(["mailto:tests@example.test"])
    return acme


@pytest.fixture
def own_pebble() -> Iterator[Callable[..., AcmeEnvironment]]:
    """A Pebble with its own settings, for tests that change its configuration or environment."""
    started: list[AcmeEnvironment] = []

    def make(**options: Any) -> AcmeEnvironment:
        stack = start(**options)
        started.append(stack)
        return stack

    yield make
    for stack in started:
        stack.stop()
        stack.remove_run_dir()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.failed:
        for stack in _STACKS:
            if stack.children:
                report.sections.append((f"Pebble logs ({stack.run_dir})", stack.log_tails()))
    return report
