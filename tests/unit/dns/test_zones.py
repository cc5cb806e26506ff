"""Where a DNS-01 record goes, and how nameservers are written."""

from __future__ import annotations

import pytest

from certwright.dns.zones import challenge_fqdn, split_server


@pytest.mark.parametrize(
    ("name", "fqdn"),
    [
        ("example.test", "_acme-challenge.example.test."),
        ("*.example.test", "_acme-challenge.example.test."),
        ("www.example.test.", "_acme-challenge.www.example.test."),
        ("*.a.b.example.test", "_acme-challenge.a.b.example.test."),
    ],
    ids=["apex", "wildcard-at-its-base", "trailing-dot", "deep-wildcard"],
)
def test_challenge_fqdn(name: str, fqdn: str) -> None:
    assert challenge_fqdn(name) == fqdn


@pytest.mark.parametrize(
    ("server", "split"),
    [
        ("10.0.0.53", ("10.0.0.53", 53)),
        ("10.0.0.53:5353", ("10.0.0.53", 5353)),
        ("ns1.example.com", ("ns1.example.com", 53)),
        ("ns1.example.com:8053", ("ns1.example.com", 8053)),
        ("[2001:db8::53]:5353", ("2001:db8::53", 5353)),
        ("[2001:db8::53]", ("2001:db8::53", 53)),
        ("2001:db8::53", ("2001:db8::53", 53)),
    ],
    ids=["ipv4", "ipv4-port", "host", "host-port", "ipv6-port", "ipv6-brackets", "ipv6-bare"],
)
def test_split_server(server: str, split: tuple[str, int]) -> None:
    assert split_server(server) == split
