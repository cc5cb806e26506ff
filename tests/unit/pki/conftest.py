"""Keys shared by the pki tests: generating RSA 4096 takes about a second, so each spec is generated once."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

from certwright.pki.keys import KeySpec, PrivateKey, generate_key


@pytest.fixture(scope="session")
def key_of() -> Callable[[KeySpec], PrivateKey]:
    """A key of each spec, generated on first use and kept for the session."""
    return functools.cache(generate_key)


@pytest.fixture(scope="session")
def ec_key(key_of: Callable[[KeySpec], PrivateKey]) -> PrivateKey:
    return key_of(KeySpec.default())
