"""The integration tier's environment: one per session, its component logs shown when a test fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from certwright_env import Environment
from certwright_env.faultproxy import FaultProxy
from certwright_env.operator import OperatorProcess, install

_ENVIRONMENTS: list[Environment] = []
DEFAULT_ISSUER = "tls-acme-default"  # the operator's --default-issuer, for kubernetes.io/tls-acme


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that take the machine's one real node themselves run before the session's environment holds it."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("owns_node") else 1)


@pytest.fixture(scope="session")
def env() -> Iterator[Environment]:
    with Environment() as environment:
        _ENVIRONMENTS.append(environment)
        yield environment
        _ENVIRONMENTS.remove(environment)
    environment.remove_run_dir()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.failed:
        for environment in _ENVIRONMENTS:
            report.sections.append((f"component logs ({environment.run_dir})", environment.log_tails()))
    return report


@pytest.fixture(scope="session")
def operator(env: Environment) -> Iterator[OperatorProcess]:
    """certwright installed from crds/ and manifests/, running from this checkout under its ServiceAccount."""
    install(env)
    process = OperatorProcess(env, f"--default-issuer=ClusterIssuer/{DEFAULT_ISSUER}")
    process.start()
    yield process
    process.stop()


@pytest.fixture
def proxy(env: Environment) -> Iterator[FaultProxy]:
    """An HTTPS proxy in front of Pebble that answers for it where a test says so."""
    fronting = FaultProxy(env)
    fronting.start()
    yield fronting
    fronting.stop()
