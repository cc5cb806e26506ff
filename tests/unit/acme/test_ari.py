"""ACME Renewal Information (RFC 9773): the CertID, the window, and the moment chosen in it."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from hypothesis import assume, given
from hypothesis import strategies as st

from certwright.acme.ari import (
    DEFAULT_RETRY_AFTER,
    MAX_RETRY_AFTER,
    MIN_RETRY_AFTER,
    InvalidRenewalInfo,
    RenewalInfo,
    cert_id,
    choose_renewal_time,
)

from .fakes import issue

RFC_AKI = bytes.fromhex("69885B6B87464041E1B37B847BA0AE2CDE01C8D4")
START = datetime.datetime(2025, 1, 2, 4, 0, tzinfo=datetime.UTC)
END = datetime.datetime(2025, 1, 3, 4, 0, tzinfo=datetime.UTC)
WINDOW = {"suggestedWindow": {"start": "2025-01-02T04:00:00Z", "end": "2025-01-03T04:00:00Z"}}


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        (0x87654321, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"),  # RFC 9773 §4.1: high bit set, so a leading 0x00
        (0x12345678, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.EjRWeA"),  # high bit clear: no leading zero byte
        (0x7F, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.fw"),
        (0x80, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIA"),
        (0x0100, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AQA"),
    ],
    ids=["rfc9773-example", "high-bit-clear", "one-byte", "one-byte-high-bit", "two-bytes"],
)
def test_cert_id_is_aki_and_der_serial_base64url(serial: int, expected: str) -> None:
    certificate = issue("leaf.test", "Issuer", serial=serial, aki=RFC_AKI)
    assert cert_id(certificate) == expected


def test_cert_id_needs_an_authority_key_identifier() -> None:
    certificate = issue("leaf.test", "Issuer", serial=0x87654321, aki=None)
    with pytest.raises(InvalidRenewalInfo, match="Authority Key Identifier"):
        cert_id(certificate)


def test_cert_id_needs_the_key_identifier_of_the_authority_key_identifier() -> None:
    """An AKI may name the issuer by name and serial only; ARI needs the keyIdentifier."""
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Issuer")])
    aki = x509.AuthorityKeyIdentifier(None, [x509.DirectoryName(issuer)], 1)
    without_key_id = issue("leaf.test", "Issuer", serial=0x87654321, aki=aki)
    with pytest.raises(InvalidRenewalInfo, match="keyIdentifier"):
        cert_id(without_key_id)


def test_renewal_info_reads_the_window_and_explanation() -> None:
    body = {**WINDOW, "explanationURL": "https://ca.test/why"}
    info = RenewalInfo.from_json(body, retry_after=3600.0)
    assert info == RenewalInfo(START, END, "https://ca.test/why", 3600.0)


def test_renewal_info_accepts_fractional_seconds_and_offsets() -> None:
    body = {"suggestedWindow": {"start": "2025-01-02T05:00:00.123456789+01:00", "end": "2025-01-03T04:00:00Z"}}
    info = RenewalInfo.from_json(body, retry_after=None)
    assert info.start == START + datetime.timedelta(microseconds=123456)
    assert info.explanation_url is None


@pytest.mark.parametrize(
    "body",
    [
        {"suggestedWindow": {"start": "2025-01-03T04:00:00Z", "end": "2025-01-02T04:00:00Z"}},
        {"suggestedWindow": {"start": "2025-01-02T04:00:00Z", "end": "2025-01-02T04:00:00Z"}},
        {},
        {"suggestedWindow": {"start": "2025-01-02T04:00:00Z"}},
        {"suggestedWindow": None},
        {"suggestedWindow": {"start": "yesterday", "end": "2025-01-03T04:00:00Z"}},
        [],
        "suggestedWindow",
    ],
    ids=[
        "end-before-start",
        "end-equals-start",
        "no-window",
        "no-end",
        "null-window",
        "unreadable-time",
        "json-array",
        "json-string",
    ],
)
def test_unusable_renewal_info_is_invalid(body: Any) -> None:
    with pytest.raises(InvalidRenewalInfo):
        RenewalInfo.from_json(body, retry_after=None)


def test_renewal_info_with_numeric_timestamps_is_invalid() -> None:
    with pytest.raises(InvalidRenewalInfo):
        RenewalInfo.from_json({"suggestedWindow": {"start": 1735790400, "end": 1735876800}}, retry_after=None)


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        (None, DEFAULT_RETRY_AFTER),
        (0.0, MIN_RETRY_AFTER),
        (59.0, MIN_RETRY_AFTER),
        (3600.0, 3600.0),
        (86401.0, MAX_RETRY_AFTER),
        (10 * 86400.0, MAX_RETRY_AFTER),
    ],
    ids=["absent-six-hours", "zero", "under-a-minute", "inside", "over-a-day", "ten-days"],
)
def test_renewal_info_keeps_retry_after_between_a_minute_and_a_day(retry_after: float | None, expected: float) -> None:
    assert RenewalInfo.from_json(WINDOW, retry_after).retry_after == expected


def test_retry_after_bounds_are_rfc9773s() -> None:
    assert (MIN_RETRY_AFTER, MAX_RETRY_AFTER, DEFAULT_RETRY_AFTER) == (60.0, 86400.0, 6 * 3600.0)


@pytest.mark.parametrize(
    ("end", "uniform", "expected"),
    [
        (END, 0.0, START),
        (END, 0.5, datetime.datetime(2025, 1, 2, 16, 0, tzinfo=datetime.UTC)),
        (END, 0.25, datetime.datetime(2025, 1, 2, 10, 0, tzinfo=datetime.UTC)),
        (START + datetime.timedelta(seconds=3), 0.5, START + datetime.timedelta(seconds=1)),  # 1.5 s → 1 s
        (END, 0.9999999, END - datetime.timedelta(seconds=1)),  # truncated: never past the end
    ],
    ids=["zero-is-start", "half-is-middle", "quarter", "truncated-to-second", "almost-one"],
)
def test_renewal_time_is_the_uniform_fraction_of_the_window(
    end: datetime.datetime, uniform: float, expected: datetime.datetime
) -> None:
    info = RenewalInfo(START, end, None, DEFAULT_RETRY_AFTER)
    assert choose_renewal_time(info, lambda: uniform) == expected


@given(
    start_seconds=st.integers(min_value=0, max_value=10**9),
    span=st.floats(min_value=0.001, max_value=400 * 86400.0),
    fraction=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_renewal_time_stays_in_the_window_on_whole_seconds(start_seconds: int, span: float, fraction: float) -> None:
    start = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(seconds=start_seconds)
    end = start + datetime.timedelta(seconds=span)
    assume(end > start)  # a span below the timedelta resolution
    chosen = choose_renewal_time(RenewalInfo(start, end, None, DEFAULT_RETRY_AFTER), lambda: fraction)
    assert start <= chosen <= end
    assert chosen.microsecond == 0
