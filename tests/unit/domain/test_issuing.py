"""Why a Certificate needs issuing: the ordered checks, each with its reason, and the first one wins."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certwright.domain import api
from certwright.domain.conditions import Reason
from certwright.domain.issuing import Inputs, SecretView, Trigger, status_renewal_time, why_issue
from certwright.domain.specs import parse_certificate
from certwright.pki.keys import key_to_pem

from ..pki.ca import EPOCH, TinyCA

NAMES = ("www.example.com", "example.com")
RENEWAL = EPOCH + datetime.timedelta(days=60)
ISSUED_BY_REF = {"name": "letsencrypt", "kind": "ClusterIssuer"}
ISSUED_BY = {api.ANNOTATION_ISSUER_NAME: "letsencrypt", api.ANNOTATION_ISSUER_KIND: "ClusterIssuer"}


@dataclass(frozen=True)
class World:
    """An up-to-date Certificate and Secret, plus the pieces to spoil them with."""

    inputs: Inputs
    certificate_pem: bytes
    other_key_pem: bytes

    def with_secret(self, **fields: Any) -> Inputs:
        assert self.inputs.secret is not None
        return dataclasses.replace(self.inputs, secret=dataclasses.replace(self.inputs.secret, **fields))

    def with_spec(self, **fields: Any) -> Inputs:
        spec = {"secretName": "web-tls", "dnsNames": list(NAMES), "issuerRef": dict(ISSUED_BY_REF), **fields}
        return dataclasses.replace(self.inputs, spec=parse_certificate(spec))


@pytest.fixture(scope="module")
def world() -> World:
    ca = TinyCA.root()
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = ca.issue(key, dns_names=NAMES)
    certificate_pem = leaf.public_bytes(serialization.Encoding.PEM) + ca.certificate.public_bytes(
        serialization.Encoding.PEM
    )
    spec = parse_certificate({"secretName": "web-tls", "dnsNames": list(NAMES), "issuerRef": ISSUED_BY_REF})
    return World(
        inputs=Inputs(
            spec=spec,
            secret=SecretView(certificate_pem, key_to_pem(key), dict(ISSUED_BY)),
            certificate_annotations={},
            renewal_time=RENEWAL,
            now=RENEWAL - datetime.timedelta(days=1),
        ),
        certificate_pem=certificate_pem,
        other_key_pem=key_to_pem(ec.generate_private_key(ec.SECP256R1())),
    )


def test_an_up_to_date_secret_needs_nothing(world: World) -> None:
    assert why_issue(world.inputs) is None


Spoil = Callable[[World], Inputs]
MANUAL = {api.ANNOTATION_RENEW: "now"}

SINGLE: list[tuple[Spoil, Reason, str]] = [
    (lambda w: dataclasses.replace(w.inputs, secret=None), Reason.SECRET_MISSING, "Secret web-tls does not exist"),
    (lambda w: w.with_secret(key_pem=None), Reason.SECRET_INCOMPLETE, "has no tls.key"),
    (lambda w: w.with_secret(certificate_pem=b""), Reason.SECRET_INCOMPLETE, "has no tls.crt"),
    (
        lambda w: w.with_secret(certificate_pem=None, key_pem=None),
        Reason.SECRET_INCOMPLETE,
        "has no tls.crt or tls.key",
    ),
    (
        lambda w: w.with_secret(certificate_pem=b"-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n"),
        Reason.SECRET_INVALID,
        "does not hold a usable certificate and key",
    ),
    (lambda w: w.with_secret(certificate_pem=b"not pem at all"), Reason.SECRET_INVALID, "usable certificate"),
    (
        lambda w: w.with_secret(certificate_pem=w.certificate_pem.rsplit(b"-----END", 1)[0]),
        Reason.SECRET_INVALID,
        "usable certificate",
    ),
    (lambda w: w.with_secret(key_pem=b"-----BEGIN PRIVATE KEY-----\n"), Reason.SECRET_INVALID, "usable"),
    (lambda w: w.with_secret(key_pem=w.other_key_pem), Reason.KEY_MISMATCH, "does not match its certificate"),
    (
        lambda w: w.with_spec(issuerRef={"name": "letsencrypt-staging", "kind": "ClusterIssuer"}),
        Reason.ISSUER_CHANGED,
        "issued by ClusterIssuer letsencrypt, the spec asks for ClusterIssuer letsencrypt-staging",
    ),
    (
        lambda w: w.with_spec(issuerRef={"name": "letsencrypt"}),
        Reason.ISSUER_CHANGED,
        "the spec asks for Issuer letsencrypt",
    ),
    (lambda w: w.with_secret(annotations={}), Reason.ISSUER_CHANGED, "the spec asks for ClusterIssuer letsencrypt"),
    (
        lambda w: w.with_spec(dnsNames=[*NAMES, "shop.example.com"]),
        Reason.DNS_NAMES_CHANGED,
        "the spec asks for example.com, shop.example.com, www.example.com",
    ),
    (
        lambda w: w.with_spec(dnsNames=["www.example.com"]),
        Reason.DNS_NAMES_CHANGED,
        "the certificate names example.com, www.example.com",
    ),
    (
        lambda w: w.with_spec(privateKey={"algorithm": "ECDSA", "size": 384}),
        Reason.KEY_SPEC_CHANGED,
        "the key is ECDSA 256; the spec asks for ECDSA 384",
    ),
    (
        lambda w: dataclasses.replace(w.inputs, certificate_annotations=MANUAL),
        Reason.MANUAL_TRIGGER,
        "certwright.dev/renew annotation",
    ),
    (lambda w: dataclasses.replace(w.inputs, now=RENEWAL), Reason.RENEWAL_DUE, "due at 2025-03-02T00:00:00+00:00"),
    (
        lambda w: dataclasses.replace(w.inputs, now=RENEWAL + datetime.timedelta(days=40)),
        Reason.RENEWAL_DUE,
        "renewal was due",
    ),
    (lambda w: dataclasses.replace(w.inputs, failed_attempts=3), Reason.RETRYING, "attempt 3 failed; trying again"),
]


@pytest.mark.parametrize(
    ("spoil", "reason", "says"),
    SINGLE,
    ids=[
        "secret-missing",
        "no-tls-key",
        "empty-tls-crt",
        "neither",
        "garbage-certificate-pem",
        "certificate-not-pem",
        "certificate-truncated",
        "garbage-key-pem",
        "key-does-not-match",
        "issuer-name-changed",
        "issuer-kind-changed",
        "secret-names-no-issuer",
        "dns-name-added",
        "dns-name-removed",
        "key-size-changed",
        "renew-annotation",
        "renewal-due-exactly",
        "renewal-overdue",
        "retry-after-failure",
    ],
)
def test_each_check_fires_with_its_reason(world: World, spoil: Spoil, reason: Reason, says: str) -> None:
    trigger = why_issue(spoil(world))

    assert trigger is not None
    assert trigger.reason == reason
    assert says in trigger.message


@pytest.mark.parametrize(
    "spoil",
    [
        lambda w: dataclasses.replace(w.inputs, now=RENEWAL - datetime.timedelta(seconds=1)),
        lambda w: dataclasses.replace(w.inputs, renewal_time=None, now=RENEWAL + datetime.timedelta(days=365)),
        lambda w: w.with_spec(dnsNames=["Example.com", "WWW.example.com", "example.com"]),
        lambda w: w.with_spec(privateKey={"rotationPolicy": "Never"}),
        lambda w: dataclasses.replace(w.inputs, certificate_annotations={"other.dev/renew": "now"}),
        lambda w: w.with_secret(annotations={**ISSUED_BY, "team": "shop"}),
    ],
    ids=[
        "a-second-before-renewal",
        "no-renewal-time",
        "same-names-other-order-and-case",
        "rotation-policy-alone",
        "foreign-annotation-on-certificate",
        "foreign-annotation-on-secret",
    ],
)
def test_what_does_not_trigger(world: World, spoil: Spoil) -> None:
    assert why_issue(spoil(world)) is None


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (
            lambda w: dataclasses.replace(w.inputs, secret=None, certificate_annotations=MANUAL, now=RENEWAL),
            Reason.SECRET_MISSING,
        ),
        (lambda w: dataclasses.replace(w.with_secret(key_pem=b""), now=RENEWAL), Reason.SECRET_INCOMPLETE),
        (lambda w: w.with_secret(certificate_pem=b"garbage", annotations={}), Reason.SECRET_INVALID),
        (lambda w: w.with_secret(key_pem=w.other_key_pem, annotations={}), Reason.KEY_MISMATCH),
        (
            lambda w: w.with_spec(issuerRef={"name": "staging"}, dnsNames=["shop.example.com"]),
            Reason.ISSUER_CHANGED,
        ),
        (
            lambda w: w.with_spec(dnsNames=["shop.example.com"], privateKey={"size": 384}),
            Reason.DNS_NAMES_CHANGED,
        ),
        (
            lambda w: dataclasses.replace(w.with_spec(privateKey={"size": 384}), certificate_annotations=MANUAL),
            Reason.KEY_SPEC_CHANGED,
        ),
        (
            lambda w: dataclasses.replace(w.inputs, certificate_annotations=MANUAL, now=RENEWAL),
            Reason.MANUAL_TRIGGER,
        ),
        (lambda w: dataclasses.replace(w.inputs, failed_attempts=2, now=RENEWAL), Reason.RENEWAL_DUE),
    ],
    ids=[
        "missing-over-manual-and-due",
        "incomplete-over-due",
        "invalid-over-issuer",
        "mismatch-over-issuer",
        "issuer-over-names",
        "names-over-key-spec",
        "key-spec-over-manual",
        "manual-over-due",
        "due-over-retry",
    ],
)
def test_an_earlier_check_wins(world: World, spoil: Spoil, reason: Reason) -> None:
    trigger = why_issue(spoil(world))
    assert trigger is not None
    assert trigger.reason == reason


def test_issuer_changed_message_for_a_secret_without_issuer_annotations_names_no_none(world: World) -> None:
    trigger = why_issue(world.with_secret(annotations={}))

    assert trigger is not None
    assert trigger.reason == Reason.ISSUER_CHANGED
    assert "None" not in trigger.message


def test_a_p384_key_in_a_p384_certificate_for_a_p256_spec_is_a_key_change() -> None:
    ca = TinyCA.root()
    key = ec.generate_private_key(ec.SECP384R1())
    certificate_pem = ca.issue(key, dns_names=NAMES).public_bytes(serialization.Encoding.PEM)
    spec = parse_certificate({"secretName": "web-tls", "dnsNames": list(NAMES), "issuerRef": ISSUED_BY_REF})

    trigger = why_issue(Inputs(spec, SecretView(certificate_pem, key_to_pem(key), ISSUED_BY), {}, None, EPOCH))

    assert trigger == Trigger(Reason.KEY_SPEC_CHANGED, "the key is ECDSA 384; the spec asks for ECDSA 256")


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"renewalTime": "2025-03-02T00:00:00Z"}, RENEWAL),
        ({}, None),
        ({"renewalTime": None}, None),
    ],
    ids=["recorded", "absent", "null"],
)
def test_status_renewal_time(status: dict[str, object], expected: datetime.datetime | None) -> None:
    assert status_renewal_time(status) == expected
