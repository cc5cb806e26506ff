"""The environment's DNS is a real BIND: every name resolves to the environment, and its test zones
take RFC 2136 updates signed with the run's TSIG key, refusing the ones a real server refuses."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from certwright_env import Environment
from certwright_env.base import REPO, Stack
from certwright_env.bind import Bind, UpdateRefused
from certwright_env.issuer import pebble_dns01_issuer_yaml
from certwright_env.operator import NAMESPACE
from certwright_env.probes import resolve
from certwright_env.processes import Child

CHALLENGE = "_acme-challenge.t.example.test."


@pytest.mark.parametrize("name", ["x.example.com", "a.test", "a.b.example.test", "example.test", "c.delegated.test"])
def test_any_name_resolves_to_the_environment(env: Environment, name: str) -> None:
    assert resolve(env, name) == [env.address]
    assert env.bind.query(name, "A") == [env.address]


def test_example_test_is_a_zone_with_its_own_nameserver(env: Environment) -> None:
    (soa,) = env.bind.query("example.test", "SOA")

    assert soa.split()[:2] == ["ns.example.test.", "hostmaster.example.test."]
    assert env.bind.query("example.test", "NS") == ["ns.example.test."]
    assert env.bind.query("ns.example.test", "A") == [env.bind.address]


def test_the_nameserver_listens_where_its_ns_records_point(env: Environment) -> None:
    """Port 53 of the environment's own address, where a DNS-01 propagation check asks the NS."""
    if os.geteuid() != 0:
        pytest.skip("only root binds port 53")

    assert env.bind.nameserver == f"{env.address}:53"
    assert env.bind.query("ns.example.test", "A") == [env.address]


def test_a_signed_update_adds_and_removes_txt_values(env: Environment) -> None:
    env.bind.update("example.test", add=[(CHALLENGE, 60, "TXT", "first"), (CHALLENGE, 60, "TXT", "second")])
    assert env.bind.query(CHALLENGE, "TXT") == ['"first"', '"second"']

    env.bind.update("example.test", delete=[(CHALLENGE, "TXT", "first")])
    assert env.bind.query(CHALLENGE, "TXT") == ['"second"']

    env.bind.update("example.test", delete=[(CHALLENGE, "TXT")])
    assert env.bind.query(CHALLENGE, "TXT") == []


def test_a_cname_points_a_challenge_into_the_delegated_zone(env: Environment) -> None:
    env.bind.update("example.test", add=[("_acme-challenge.c", 60, "CNAME", "c.delegated.test.")])
    env.bind.update("delegated.test", add=[("c", 60, "TXT", "by-way-of-cname")])

    assert env.bind.query("_acme-challenge.c.example.test", "CNAME") == ["c.delegated.test."]
    assert env.bind.query("c.delegated.test", "TXT") == ['"by-way-of-cname"']


def _wrong_secret() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.mark.parametrize(
    ("zone", "name", "signing", "rcode"),
    [
        ("example.test", "_acme-challenge.r.example.test.", {"secret": _wrong_secret()}, "BADSIG"),
        ("example.test", "_acme-challenge.r.example.test.", {"key_name": "someone-else."}, "BADKEY"),
        ("readonly.test", "_acme-challenge.r.readonly.test.", {}, "REFUSED"),
        (".", "_acme-challenge.r.", {}, "REFUSED"),
        ("nothere.test", "_acme-challenge.r.nothere.test.", {}, "NOTAUTH"),
    ],
    ids=["wrong-secret", "unknown-key", "read-only-zone", "root-zone", "zone-not-served"],
)
def test_an_update_is_refused_as_a_real_server_refuses_it(
    env: Environment, zone: str, name: str, signing: dict[str, str], rcode: str
) -> None:
    with pytest.raises(UpdateRefused) as refused:
        env.bind.update(zone, add=[(name, 60, "TXT", "not-allowed")], **signing)

    assert refused.value.rcode == rcode
    assert env.bind.query(name, "TXT") == []


def test_exports_and_the_dns01_issuer_carry_the_key(env: Environment) -> None:
    exports = dict(line.removeprefix("export ").split("=", 1) for line in env.exports().splitlines())
    assert exports["BIND_NAMESERVER"] == env.nameserver == env.bind.nameserver
    assert exports["BIND_TSIG_KEY_NAME"] == env.bind.tsig_key_name
    assert exports["BIND_TSIG_ALGORITHM"] == "HMACSHA256"
    assert exports["BIND_TSIG_SECRET"] == env.bind.tsig_secret

    secret, issuer = yaml.safe_load_all(
        pebble_dns01_issuer_yaml(env.pebble_directory_url, env.pebble_ca_bundle, env.bind, namespace=NAMESPACE)
    )
    assert secret["metadata"] == {"name": "bind-tsig", "namespace": NAMESPACE}
    assert secret["stringData"] == {"secret": env.bind.tsig_secret}
    assert issuer["kind"] == "ClusterIssuer"
    assert issuer["spec"]["acme"]["solvers"] == [
        {
            "dns01": {
                "rfc2136": {
                    "nameserver": env.bind.nameserver,
                    "tsigKeyName": env.bind.tsig_key_name,
                    "tsigAlgorithm": "HMACSHA256",
                    "tsigSecretSecretRef": {"name": "bind-tsig", "key": "secret"},
                }
            }
        }
    ]


def test_named_writes_only_into_the_run_folder(env: Environment) -> None:
    env.bind.update("example.test", add=[("_acme-challenge.journal", 60, "TXT", "kept")])

    assert (env.run_dir / "bind" / "example.test.zone.jnl").exists()
    assert (env.run_dir / "bind" / "named.pid").read_text().strip() == str(_named(env).process.pid)


def _named(env: Environment) -> Child:
    (child,) = (child for child in env.children if child.name == "named")
    return child


class _DnsOnly(Stack):
    """BIND alone on an address of its own, stopped as ``Environment`` stops it."""

    def _start_components(self) -> None:
        self.bind = Bind(self)
        self.bind.start()

    def stop(self) -> None:
        if hasattr(self, "bind"):
            self.bind.release()
        super().stop()


# Starts BIND alone and waits to be killed; prints its address, named's process id and its run folder.
_KILLED_OWNER = """
import time
from tests.integration.test_bind import _DnsOnly
stack = _DnsOnly()
stack.start()
print(stack.address, stack.children[0].process.pid, stack.run_dir, flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="only root puts an address on lo")
def test_a_killed_environment_leaves_neither_named_nor_its_address_behind() -> None:
    pythonpath = os.pathsep.join(str(path) for path in (REPO, REPO / "testenv", REPO / "operator"))
    command = [sys.executable, "-c", _KILLED_OWNER]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": pythonpath}
    ) as owner:
        try:
            assert owner.stdout is not None
            address, named_pid, run_dir = owner.stdout.readline().split()
            assert address in _lo_addresses()
        finally:
            owner.send_signal(signal.SIGKILL)
    shutil.rmtree(run_dir)
    assert _gone(int(named_pid))
    assert address in _lo_addresses()  # left behind, until the next environment starts its BIND

    with _DnsOnly() as stack:
        assert address not in _lo_addresses()
        assert stack.address in _lo_addresses()
    stack.remove_run_dir()
    assert stack.address not in _lo_addresses()


def _lo_addresses() -> set[str]:
    listing = subprocess.run(
        ["ip", "-j", "-4", "addr", "show", "dev", "lo"], capture_output=True, text=True, check=True
    )
    return {entry["local"] for interface in json.loads(listing.stdout) for entry in interface["addr_info"]}


def _gone(pid: int, timeout: float = 10) -> bool:
    """Whether the process has exited (a zombie that its new parent has yet to reap counts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False
