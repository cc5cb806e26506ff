"""named's configuration keeps it authoritative, on one address, writing only into the run folder;
its zones answer every name with the environment's address."""

from __future__ import annotations

import re
from pathlib import Path

import dns.name
import dns.rdatatype
import dns.zone
import pytest

from certwright_env.bind import READONLY_ZONES, UPDATABLE_ZONES, TsigKey, named_conf, zone_file, zone_file_name

FOLDER = Path("/tmp/certwright-env-x/bind")
KEY = TsigKey("certwright-env.", "hmac-sha256", "c2VjcmV0")


def test_every_file_named_writes_is_in_the_run_folder() -> None:
    conf = named_conf(FOLDER, "127.1.0.1", 53, KEY)

    paths = re.findall(r'"(/[^"]*)"', conf)
    assert len(paths) >= 9
    assert all(Path(path).is_relative_to(FOLDER) for path in paths)
    assert f'directory "{FOLDER}";' in conf


def test_named_listens_on_one_address_without_rndc_and_chases_cnames_as_a_resolver() -> None:
    conf = named_conf(FOLDER, "127.1.0.1", 5353, KEY)

    for statement in (
        "listen-on port 5353 { 127.1.0.1; };",
        "listen-on-v6 { none; };",
        "recursion yes;",
        "allow-recursion { any; };",
        "dnssec-validation no;",
        "notify no;",
        "empty-zones-enable no;",
        "controls { };",
    ):
        assert statement in conf
    assert 'key "certwright-env." { algorithm hmac-sha256; secret "c2VjcmV0"; };' in conf


@pytest.mark.parametrize(
    ("zone", "allowed"),
    [
        (".", "none;"),
        *((zone, "none;") for zone in READONLY_ZONES),
        *((zone, 'key "certwright-env.";') for zone in UPDATABLE_ZONES),
    ],
    ids=lambda value: str(value),
)
def test_only_the_updatable_zones_take_signed_updates(zone: str, allowed: str) -> None:
    conf = named_conf(FOLDER, "127.1.0.1", 53, KEY)

    assert f'zone "{zone}" {{ type primary; file "{zone_file_name(zone)}"; allow-update {{ {allowed} }}; }};' in conf


def _records(zone: str) -> dict[tuple[str, str], list[str]]:
    parsed = dns.zone.from_text(zone_file(zone, "127.1.0.1", "127.2.0.1"), origin=None, relativize=False)
    return {
        (name.to_text(), dns.rdatatype.to_text(rdataset.rdtype)): sorted(rdata.to_text() for rdata in rdataset)
        for name, node in parsed.nodes.items()
        for rdataset in node.rdatasets
    }


@pytest.mark.parametrize(
    ("zone", "nameserver"),
    [(".", "ns.certwright-env."), ("example.test", "ns.example.test."), ("readonly.test", "ns.readonly.test.")],
    ids=["root", "example.test", "readonly.test"],
)
def test_a_zone_answers_every_name_with_the_address_and_names_its_nameserver(zone: str, nameserver: str) -> None:
    origin = dns.name.from_text(zone)
    apex, wildcard = origin.to_text(), dns.name.from_text("*", origin).to_text()
    records = _records(zone)

    assert records[(apex, "NS")] == [nameserver]
    assert records[(nameserver, "A")] == ["127.2.0.1"]
    assert records[(apex, "A")] == ["127.1.0.1"]
    assert records[(wildcard, "A")] == ["127.1.0.1"]
    (soa,) = records[(apex, "SOA")]
    assert soa.split()[0] == nameserver
    assert soa.split()[-1] == "5"  # negative answers are cached briefly


def test_the_root_zone_has_no_name_under_test_that_would_hide_its_wildcard() -> None:
    names = {name for name, _ in _records(".")}

    assert not any(name.endswith(".test.") for name in names)
