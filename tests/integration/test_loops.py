"""Issuance that never runs away (issue 10), counted in Pebble's own record of orders.

A renewBefore that does not fit the CA's lifetime, two Certificates naming one Secret, another writer
overwriting the Secret, a CA whose renewal information keeps asking for replacement: each orders a
bounded number of times, says why, and survives a restart with its counts.
"""

from __future__ import annotations

import base64
import datetime
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certwright.pki import certificates as pki_certificates
from certwright_env import Environment
from certwright_env.faultproxy import Canned, FaultProxy
from certwright_env.operator import OperatorProcess
from certwright_env.probes import eventually

from .certwright import (
    apply,
    certificate,
    condition,
    get,
    issuer,
    leaf_names,
    names,
    namespace,
    orders,
    secret_data,
    wait_condition,
    wait_issuer_ready,
    wait_ready,
)

SECOND = datetime.timedelta(seconds=1)


def _events(env: Environment, ns: str, reason: str, name: str | None = None) -> list[dict[str, Any]]:
    items = json.loads(env.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
    return [e for e in items if e["reason"] == reason and name in (None, e["involvedObject"]["name"])]


def _time(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


# -- renewBefore that does not fit the lifetime -------------------------------------------------------


@pytest.fixture(scope="module")
def ten_minutes(env: Environment, operator: OperatorProcess) -> tuple[str, dict[str, Any]]:
    """A 600 s certificate with renewBefore 720h, started first so that its renewal (at 300 s) is
    checked by the last test of this module instead of waited for here."""
    ns = namespace(env)
    apply(
        env,
        issuer(env, "short", ns, profile="tenminutes"),
        certificate("short", ns, names(1), "short", renewBefore="720h"),
    )
    return ns, wait_ready(env, "short", ns)


def test_renew_before_longer_than_a_ten_minute_lifetime_renews_by_the_default_rule(
    env: Environment, ten_minutes: tuple[str, dict[str, Any]]
) -> None:
    ns, first = ten_minutes
    status = first["status"]

    renews = _time(status["renewalTime"])
    lifetime = _time(status["notAfter"]) - _time(status["notBefore"])
    assert renews - _time(status["notBefore"]) >= lifetime / 2 - SECOND, "half of a short lifetime, not at once"
    warning = _events(env, ns, "RenewBeforeTooLong", "short")
    assert len(warning) == 1, warning
    assert "spec.renewBefore 720h is longer than this CA's 10-minute lifetime" in warning[0]["message"]
    assert f"renewing at {status['renewalTime']}" in warning[0]["message"]
    assert "renewBefore 720h" in condition(first, "Ready")["message"]
    time.sleep(3)
    assert orders(env, ns, "short") == 1, "no runaway"


def test_renew_before_longer_than_ninety_days_orders_once_and_says_when_it_renews(
    env: Environment, operator: OperatorProcess
) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns), certificate("long", ns, names(1), "pebble", renewBefore="2400h"))

    ready = wait_ready(env, "long", ns)
    time.sleep(5)  # the old policy issued 167 times in 30 s: 5 s would show dozens

    assert orders(env, ns) == 1
    assert get(env, "certificate", "long", ns)["status"]["revision"] == 1
    status = ready["status"]
    assert _time(status["notAfter"]) - _time(status["renewalTime"]) == datetime.timedelta(days=30)
    warning = _events(env, ns, "RenewBeforeTooLong", "long")
    assert len(warning) == 1
    assert warning[0]["type"] == "Warning"
    assert "spec.renewBefore 2400h is longer than this CA's 90-day lifetime" in warning[0]["message"]
    assert f"renewing at {status['renewalTime']}" in warning[0]["message"]


# -- one Secret, one Certificate ---------------------------------------------------------------------


@pytest.mark.parametrize("first", ["aa", "zz"], ids=["first-applied-sorts-first", "first-applied-sorts-last"])
def test_two_certificates_naming_one_secret_order_once_until_the_owner_goes(
    env: Environment, operator: OperatorProcess, first: str
) -> None:
    ns = namespace(env)
    second = "zz" if first == "aa" else "aa"
    apply(env, issuer(env, "pebble", ns), certificate(first, ns, names(1), "pebble", secretName="shared-tls"))
    wait_ready(env, first, ns)
    second_names = names(1)
    apply(env, certificate(second, ns, second_names, "pebble", secretName="shared-tls"))

    waiting = wait_condition(env, second, ns, "Ready", "SecretInUse")
    assert f"Secret shared-tls belongs to Certificate {first}" in condition(waiting, "Ready")["message"]
    operator.kill()  # the ownership is computed again by a new process, the same way
    operator.start()
    time.sleep(4)
    assert condition(get(env, "certificate", second, ns), "Ready")["reason"] == "SecretInUse"
    assert condition(get(env, "certificate", first, ns), "Ready")["status"] == "True"
    assert orders(env, ns) == 1, "one order while both exist"
    assert get(env, "secret", "shared-tls", ns)["metadata"]["annotations"]["certwright.dev/certificate-name"] == first

    env.kubectl("delete", "certificate", first, "-n", ns)
    taken = wait_ready(env, second, ns)

    assert taken["status"]["revision"] == 1
    assert leaf_names(env, "shared-tls", ns) == sorted(second_names)
    time.sleep(2)
    assert orders(env, ns) == 2, "the next one took over with exactly one issuance"


def test_two_certificates_applied_at_once_for_one_secret_order_once(
    env: Environment, operator: OperatorProcess
) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns))
    wait_issuer_ready(env, "pebble", ns)
    apply(
        env,
        certificate("left", ns, names(1), "pebble", secretName="both-tls"),
        certificate("right", ns, names(1), "pebble", secretName="both-tls"),
    )

    def settled() -> list[str]:
        return sorted(condition(get(env, "certificate", n, ns), "Ready").get("reason", "") for n in ("left", "right"))

    eventually(settled, lambda reasons: reasons == ["Issued", "SecretInUse"], what="one owner, one waiting")
    time.sleep(2)
    assert orders(env, ns) == 1


# -- another writer overwrites the Secret ------------------------------------------------------------


def _foreign_certificate(dns_names: list[str]) -> tuple[bytes, bytes]:
    """A certificate for the same names from some other CA, with its key (as External Secrets would sync)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    issuer_name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "Somebody Else's CA")])
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return leaf.public_bytes(serialization.Encoding.PEM), key_pem


class ForeignWriter:
    """Rewrites a Secret's data every ``every`` seconds with its own field manager, like a sync controller."""

    def __init__(self, env: Environment, ns: str, secret: str, dns_names: list[str], every: float = 3.0) -> None:
        self.env, self.ns, self.secret, self.dns_names, self.every = env, ns, secret, dns_names, every
        self.stop = threading.Event()
        self.writes = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            crt, key = _foreign_certificate(self.dns_names)
            manifest = {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": self.secret, "namespace": self.ns},
                "type": "kubernetes.io/tls",
                "data": {"tls.crt": base64.b64encode(crt).decode(), "tls.key": base64.b64encode(key).decode()},
            }
            self.env.kubectl(
                "apply",
                "--server-side",
                "--force-conflicts",
                "--field-manager=external-secrets",
                "-f",
                "-",
                stdin=json.dumps(manifest),
            )
            self.writes += 1


@pytest.fixture
def writers() -> Iterator[list[ForeignWriter]]:
    started: list[ForeignWriter] = []
    yield started
    for writer in started:
        writer.stop.set()
        writer.thread.join(timeout=30)


def test_a_foreign_writer_is_named_and_not_fought(
    env: Environment, operator: OperatorProcess, writers: list[ForeignWriter]
) -> None:
    ns = namespace(env)
    dns_names = names(1)
    apply(env, issuer(env, "pebble", ns), certificate("fought", ns, dns_names, "pebble"))
    wait_ready(env, "fought", ns)
    writer = ForeignWriter(env, ns, "fought-tls", dns_names)
    writers.append(writer)
    writer.thread.start()

    stopped = wait_condition(env, "fought", ns, "Issuing", "IssuanceLoop", timeout=90)
    message = condition(stopped, "Issuing")["message"]
    assert "Secret fought-tls was overwritten by external-secrets" in message
    assert "kubectl annotate certificate fought certwright.dev/renew=now" in message
    assert condition(stopped, "Ready")["status"] == "False", "the Secret does not hold certwright's certificate"
    assert stopped["status"]["issuanceRepeats"]["count"] == 3
    operator.kill()  # the count lives in status: a restart does not reset it
    operator.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # the writer goes on for two minutes in all
        time.sleep(5)
        assert orders(env, ns) <= 4
    writer.stop.set()
    writer.thread.join(timeout=30)

    assert writer.writes >= 20
    assert orders(env, ns) == 4, "1 + 3 repeats, then no order"
    loop_events = _events(env, ns, "IssuanceLoop", "fought")
    assert len(loop_events) == 1, "one Warning, not one per back-off round"
    assert loop_events[0]["type"] == "Warning"

    env.kubectl("annotate", "certificate", "fought", "-n", ns, "certwright.dev/renew=now")
    repaired = eventually(
        lambda: get(env, "certificate", "fought", ns),
        lambda c: condition(c, "Ready").get("status") == "True" and condition(c, "Issuing").get("reason") == "Issued",
        timeout=60,
        what="the forced renewal repairs the Secret",
    )
    leaf = pki_certificates.parse_chain(secret_data(env, "fought-tls", ns)["tls.crt"])[0]
    assert "Pebble" in leaf.issuer.rfc4514_string()
    assert repaired["status"].get("issuanceRepeats") is None
    assert orders(env, ns) == 5, "the forced renewal: one order"


# -- a CA that keeps asking for replacement ----------------------------------------------------------


def _renewal_info_path(env: Environment) -> str:
    with urllib.request.urlopen(env.pebble_directory_url, context=env.ssl_context(), timeout=10) as response:
        directory = json.loads(response.read())
    url: str = directory["renewalInfo"]
    return "/" + url.split("//", 1)[1].split("/", 1)[1]


def test_a_renewal_window_always_in_the_past_trips_the_breaker(
    env: Environment, operator: OperatorProcess, proxy: FaultProxy
) -> None:
    ns = namespace(env)

    def past_window(_: str) -> str:
        now = datetime.datetime.now(datetime.UTC)
        start, end = now - datetime.timedelta(hours=2), now - datetime.timedelta(hours=1)
        window = {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "end": end.strftime("%Y-%m-%dT%H:%M:%SZ")}
        return json.dumps({"suggestedWindow": window, "explanationURL": "https://ca.example/incident"})

    proxy.canned.append(Canned("GET", _renewal_info_path(env), 200, past_window))
    bundle = base64.b64encode(env.ca.cert_file.read_bytes()).decode()
    apply(
        env,
        issuer(env, "pebble", ns, server=proxy.directory_url, caBundle=bundle),
        certificate("revoked", ns, names(1), "pebble"),
    )

    stopped = wait_condition(env, "revoked", ns, "Issuing", "IssuanceLoop", timeout=90)

    assert "the CA's renewal information asked 4 times" in condition(stopped, "Issuing")["message"]
    assert condition(stopped, "Ready")["status"] == "True", "the certificate in the Secret is still valid"
    operator.kill()  # the count and the back-off live in status
    operator.start()
    time.sleep(5)
    assert orders(env, ns, via=proxy.directory_url) == 4, "one issuance and three repeats"
    assert condition(get(env, "certificate", "revoked", ns), "Issuing")["reason"] == "IssuanceLoop"
    assert get(env, "certificate", "revoked", ns)["status"]["revision"] == 4


# -- last: the ten-minute certificate of the first test renews once, at its time ---------------------


def test_the_ten_minute_certificate_renews_once_at_the_default_time(
    env: Environment, ten_minutes: tuple[str, dict[str, Any]]
) -> None:
    ns, first = ten_minutes
    renews = _time(first["status"]["renewalTime"])
    wait = (renews - datetime.datetime.now(datetime.UTC)).total_seconds()

    second = eventually(
        lambda: get(env, "certificate", "short", ns),
        lambda c: (c.get("status") or {}).get("revision") == 2,
        timeout=max(wait, 0) + 90,
        what="the renewal at the default rule's time",
    )

    assert _time(second["status"]["notBefore"]) >= renews - SECOND, "not before its time"
    time.sleep(3)
    assert orders(env, ns, "short") == 2
    assert get(env, "certificate", "short", ns)["status"]["revision"] == 2
