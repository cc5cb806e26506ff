"""ACME Renewal Information (RFC 9773): the CertID, the suggested window, and a time inside it."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import josepy as jose
from cryptography import x509

# RFC 9773 §4.3: re-fetch after Retry-After, kept between one minute and one day; when the server
# gives none (or an unusable answer) the client waits six hours.
MIN_RETRY_AFTER = 60.0
MAX_RETRY_AFTER = 86400.0
DEFAULT_RETRY_AFTER = 6 * 3600.0


class InvalidRenewalInfo(ValueError):
    """The renewalInfo answer is not a usable window (RFC 9773 §4.2)."""


def cert_id(certificate: x509.Certificate) -> str:
    """base64url(AKI keyIdentifier) "." base64url(DER serial content), without padding (RFC 9773 §4.1)."""
    try:
        aki = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound as error:
        raise InvalidRenewalInfo("the certificate has no Authority Key Identifier, so it has no ARI CertID") from error
    if aki.key_identifier is None:
        raise InvalidRenewalInfo("the certificate's Authority Key Identifier has no keyIdentifier")
    serial = certificate.serial_number
    serial_bytes = serial.to_bytes((serial.bit_length() + 8) // 8, "big")  # DER: a leading 0 keeps it positive
    return f"{jose.encode_b64jose(aki.key_identifier)}.{jose.encode_b64jose(serial_bytes)}"


@dataclass(frozen=True)
class RenewalInfo:
    """The CA's suggested renewal window for one certificate."""

    start: datetime.datetime
    end: datetime.datetime
    explanation_url: str | None
    retry_after: float

    @classmethod
    def from_json(cls, body: Any, retry_after: float | None) -> RenewalInfo:
        try:
            window = body["suggestedWindow"]
            start = _timestamp(window["start"])
            end = _timestamp(window["end"])
        except (TypeError, KeyError, ValueError, AttributeError) as error:
            raise InvalidRenewalInfo(f"renewalInfo has no readable suggestedWindow: {error}") from error
        if end <= start:
            raise InvalidRenewalInfo(f"renewalInfo window ends ({end}) before it starts ({start})")
        explanation = body.get("explanationURL")
        delay = DEFAULT_RETRY_AFTER if retry_after is None else min(max(retry_after, MIN_RETRY_AFTER), MAX_RETRY_AFTER)
        return cls(start, end, str(explanation) if explanation else None, delay)


def choose_renewal_time(info: RenewalInfo, uniform: Callable[[], float]) -> datetime.datetime:
    """A uniformly random moment inside the window, truncated to the second (RFC 9773 §4.2).

    ``uniform`` returns a float in [0, 1), like ``random.random``; a time in the past means "now".
    """
    span = (info.end - info.start).total_seconds()
    chosen = (info.start + datetime.timedelta(seconds=span * uniform())).replace(microsecond=0)
    if chosen < info.start:  # truncation went below a start with fractions of a second
        chosen += datetime.timedelta(seconds=1)
    return min(chosen, info.end)


def _timestamp(value: object) -> datetime.datetime:
    if not isinstance(value, str):
        raise ValueError(f"timestamp {value!r} is not an RFC 3339 string")
    parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed
