"""Does a Certificate need issuing, and why: an ordered chain of small checks that do no I/O.

The first check that fires gives the reason recorded on the ``Issuing`` condition (as cert-manager's
trigger controller does). Inputs are what the controller already read: the parsed spec, the Secret's
data and annotations, the Certificate's annotations and status, and the time.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property

from cryptography import x509

from ..acme import ari
from ..pki import certificates as pki_certificates
from ..pki import keys as pki_keys
from . import api
from .conditions import Reason, parse_timestamp
from .specs import CertificateSpec


@dataclass(frozen=True)
class SecretView:
    """What the checks need of the Secret (None when it does not exist); the certificate and key are
    parsed once, on first use (a parse error is raised at every use, never kept)."""

    certificate_pem: bytes | None
    key_pem: bytes | None
    annotations: Mapping[str, str]

    @cached_property
    def leaf(self) -> x509.Certificate:
        assert self.certificate_pem
        return pki_certificates.parse_chain(self.certificate_pem)[0]

    @cached_property
    def key(self) -> pki_keys.PrivateKey:
        assert self.key_pem
        return pki_keys.key_from_pem(self.key_pem)

    @cached_property
    def info(self) -> pki_certificates.CertificateInfo:
        return pki_certificates.certificate_info(self.leaf)


@dataclass(frozen=True)
class Trigger:
    reason: Reason
    message: str


@dataclass(frozen=True)
class Inputs:
    spec: CertificateSpec
    secret: SecretView | None
    certificate_annotations: Mapping[str, str]
    renewal_time: datetime.datetime | None
    now: datetime.datetime
    certificate_name: str = ""
    issued_cert_id: str | None = None  # status.certID: the certificate certwright last put in the Secret
    failed_attempts: int = 0  # status.failedIssuanceAttempts, when the last attempt failed (not a loop stop)


Check = Callable[[Inputs], Trigger | None]


def _secret_missing(i: Inputs) -> Trigger | None:
    if i.secret is None:
        return Trigger(Reason.SECRET_MISSING, f"Secret {i.spec.secret_name} does not exist")
    return None


def _secret_incomplete(i: Inputs) -> Trigger | None:
    assert i.secret is not None
    missing = [
        key for key, value in (("tls.crt", i.secret.certificate_pem), ("tls.key", i.secret.key_pem)) if not value
    ]
    if missing:
        return Trigger(Reason.SECRET_INCOMPLETE, f"Secret {i.spec.secret_name} has no {' or '.join(missing)}")
    return None


def _secret_invalid(i: Inputs) -> Trigger | None:
    assert i.secret is not None
    assert i.secret.certificate_pem
    assert i.secret.key_pem
    try:
        leaf = i.secret.leaf
        key = i.secret.key
    except ValueError as error:
        return Trigger(
            Reason.SECRET_INVALID, f"Secret {i.spec.secret_name} does not hold a usable certificate and key: {error}"
        )
    if not pki_certificates.key_matches_certificate(key, leaf):
        return Trigger(Reason.KEY_MISMATCH, f"the key in Secret {i.spec.secret_name} does not match its certificate")
    return None


def _issuer_changed(i: Inputs) -> Trigger | None:
    assert i.secret is not None
    ref = i.spec.issuer_ref
    had = (i.secret.annotations.get(api.ANNOTATION_ISSUER_NAME), i.secret.annotations.get(api.ANNOTATION_ISSUER_KIND))
    if had == (ref.name, ref.kind):
        return None
    if had == (None, None):
        return Trigger(
            Reason.ISSUER_CHANGED,
            f"Secret {i.spec.secret_name} names no issuer (certwright did not issue it); "
            f"the spec asks for {ref.kind} {ref.name}",
        )
    return Trigger(
        Reason.ISSUER_CHANGED,
        f"the certificate was issued by {had[1]} {had[0]}, the spec asks for {ref.kind} {ref.name}",
    )


def _incorrect_certificate(i: Inputs) -> Trigger | None:
    """The Secret was written for another Certificate (one that owned it before this one, cert-manager's
    ``IncorrectCertificate``): this Certificate issues its own once."""
    assert i.secret is not None
    written_for = i.secret.annotations.get(api.ANNOTATION_CERTIFICATE)
    if written_for and i.certificate_name and written_for != i.certificate_name:
        return Trigger(
            Reason.INCORRECT_CERTIFICATE,
            f"Secret {i.spec.secret_name} holds the certificate of Certificate {written_for}",
        )
    return None


def _names_changed(i: Inputs) -> Trigger | None:
    assert i.secret is not None
    assert i.secret.certificate_pem
    info = i.secret.info
    if sorted(info.dns_names) != sorted(i.spec.dns_names):
        return Trigger(
            Reason.DNS_NAMES_CHANGED,
            f"the certificate names {', '.join(info.dns_names)}; "
            f"the spec asks for {', '.join(sorted(i.spec.dns_names))}",
        )
    return None


def _certificate_replaced(i: Inputs) -> Trigger | None:
    """The Secret holds a certificate for the right names, but not the one certwright issued: another
    writer (External Secrets, a CSI driver, a GitOps tool) put its own there."""
    assert i.secret is not None
    assert i.secret.certificate_pem
    if not i.issued_cert_id:
        return None
    leaf = i.secret.leaf
    try:
        found = ari.cert_id(leaf)
    except ari.InvalidRenewalInfo:
        found = None
    if found == i.issued_cert_id:
        return None
    return Trigger(
        Reason.SECRET_OVERWRITTEN,
        f"Secret {i.spec.secret_name} holds a certificate certwright did not issue (serial {leaf.serial_number:x})",
    )


def _key_spec_changed(i: Inputs) -> Trigger | None:
    assert i.secret is not None
    assert i.secret.key_pem
    have = pki_keys.key_spec_of(i.secret.key)
    if have != i.spec.key:
        return Trigger(
            Reason.KEY_SPEC_CHANGED,
            f"the key is {have.algorithm} {have.size}; the spec asks for {i.spec.key.algorithm} {i.spec.key.size}",
        )
    return None


def _manual_trigger(i: Inputs) -> Trigger | None:
    if api.ANNOTATION_RENEW in i.certificate_annotations:
        return Trigger(Reason.MANUAL_TRIGGER, f"renewal requested with the {api.ANNOTATION_RENEW} annotation")
    return None


def _renewal_due(i: Inputs) -> Trigger | None:
    if i.renewal_time is not None and i.now >= i.renewal_time:
        return Trigger(Reason.RENEWAL_DUE, f"renewal was due at {i.renewal_time.isoformat()}")
    return None


def _retry_after_failure(i: Inputs) -> Trigger | None:
    """An attempt failed and nothing above still asks for one — a forced renewal, whose annotation went
    when it started: its next attempt comes at the time status promised, not never."""
    if i.failed_attempts > 0:
        return Trigger(Reason.RETRYING, f"attempt {i.failed_attempts} failed; trying again")
    return None


CHECKS: tuple[Check, ...] = (
    _secret_missing,
    _secret_incomplete,
    _secret_invalid,
    _issuer_changed,
    _incorrect_certificate,
    _names_changed,
    _certificate_replaced,
    _key_spec_changed,
    _manual_trigger,
    _renewal_due,
    _retry_after_failure,
)


def why_issue(inputs: Inputs) -> Trigger | None:
    """The first reason to issue, or None when the Secret is up to date."""
    for check in CHECKS:
        trigger = check(inputs)
        if trigger is not None:
            return trigger
    return None


def status_renewal_time(status: Mapping[str, object]) -> datetime.datetime | None:
    value = status.get("renewalTime")
    return parse_timestamp(value) if isinstance(value, str) else None
