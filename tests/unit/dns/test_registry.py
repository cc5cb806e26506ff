"""Providers by name: RFC 2136 built in, an absent plug-in named with what is installed."""

from __future__ import annotations

import pytest

from certwright.dns import registry
from certwright.dns.errors import PROVIDER_NOT_FOUND, DnsError
from certwright.dns.rfc2136 import Rfc2136


def test_rfc2136_is_built_in() -> None:
    assert registry.provider_class("rfc2136") is Rfc2136


def test_a_missing_plugin_says_what_to_install() -> None:
    with pytest.raises(DnsError) as caught:
        registry.provider_class("no-such-provider")
    assert caught.value.reason == PROVIDER_NOT_FOUND
    assert "'no-such-provider'" in str(caught.value)
    assert "install its package" in str(caught.value)
