"""The loop breaker (issue 10): no Certificate is issued again and again sooner than its schedule explains.

Whatever asks for an issuance — a deleted or overwritten Secret, an ARI window already past for a
certificate issued moments ago — an issuance that comes within the first third of the current
certificate's lifetime, without a spec change or a person's forced renewal, is a *repeat*. Renewals at
their scheduled time, including any moment a future ARI window allows, are not. After ``LIMIT``
consecutive repeats the Certificate stops ordering (Let's Encrypt allows 5 certificates per exact set
of names per week; two Certificates fighting over one Secret, or another controller overwriting it,
would use that up in seconds). The count lives in status, so a restart does not reset it.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .conditions import Reason, parse_timestamp, timestamp
from .issuing import Trigger
from .renewal import earliest_renewal

LIMIT = 3  # consecutive repeats allowed; well under Let's Encrypt's 5 duplicate certificates per week

# Triggers that say the Secret no longer holds what certwright wrote: someone else changed it.
SECRET_TRIGGERS = frozenset(
    {
        Reason.SECRET_MISSING,
        Reason.SECRET_INCOMPLETE,
        Reason.SECRET_INVALID,
        Reason.KEY_MISMATCH,
        Reason.ISSUER_CHANGED,
        Reason.DNS_NAMES_CHANGED,
        Reason.KEY_SPEC_CHANGED,
        Reason.INCORRECT_CERTIFICATE,
        Reason.SECRET_OVERWRITTEN,
    }
)


@dataclass(frozen=True)
class History:
    """What the Certificate's status says of its current certificate and of the repeats so far."""

    not_before: datetime.datetime | None = None
    not_after: datetime.datetime | None = None
    generation: int | None = None  # the spec generation the current certificate fits
    window_end: datetime.datetime | None = None  # the last ARI window, and when it was received
    window_received: datetime.datetime | None = None
    repeats: int = 0
    since: datetime.datetime | None = None
    writers: tuple[str, ...] = ()

    @classmethod
    def from_status(cls, status: Mapping[str, Any]) -> History:
        window = status.get("lastRenewalInfo") or {}
        repeats = status.get("issuanceRepeats") or {}
        generation = status.get("certificateGeneration")
        return cls(
            not_before=parse_timestamp(status.get("notBefore")),
            not_after=parse_timestamp(status.get("notAfter")),
            generation=generation if isinstance(generation, int) else None,
            window_end=parse_timestamp(window.get("end")),
            window_received=parse_timestamp(window.get("receivedAt")),
            repeats=int(repeats.get("count") or 0),
            since=parse_timestamp(repeats.get("since")),
            writers=tuple(repeats.get("writers") or ()),
        )


def is_repeat(
    trigger: Trigger, history: History, *, generation: int | None, forced: bool, now: datetime.datetime
) -> bool:
    """True when this issuance is one the renewal schedule does not explain."""
    if forced or history.not_before is None or history.not_after is None:
        return False  # a person asked, or there is no certificate yet
    if trigger.reason == Reason.RETRYING:
        return False  # the last attempt issued nothing: a retry after a failure repeats no issuance
    if history.generation is not None and generation != history.generation:
        return False  # the spec changed since the certificate was issued
    if now >= earliest_renewal(history.not_before, history.not_after):
        return False
    # A renewal at a moment the CA's window allowed, however early, is not a repeat; a past window is.
    return not (trigger.reason == Reason.RENEWAL_DUE and _window_was_ahead(history))


def _window_was_ahead(history: History) -> bool:
    """The ARI window had not yet ended when the CA gave it (a past window asks for replacement at once)."""
    if history.window_end is None or history.window_received is None:
        return False
    return history.window_end > history.window_received


@dataclass(frozen=True)
class Repeats:
    """``issuanceRepeats`` in status: how many issuances in a row were repeats, of what, since when, by whom."""

    count: int
    trigger: str
    since: datetime.datetime
    writers: tuple[str, ...] = ()

    def to_status(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "trigger": self.trigger,
            "since": timestamp(self.since),
            "writers": list(self.writers),
        }


def one_more(
    history: History, trigger: Trigger, now: datetime.datetime, writer: str | None, *, counted: bool = True
) -> Repeats:
    """The repeats with this one (``counted``: it goes ahead; else only its writer is noted)."""
    writers = history.writers if writer is None or writer in history.writers else (*history.writers, writer)
    return Repeats(history.repeats + int(counted), str(trigger.reason), history.since or now, writers)


def loop_message(
    trigger: Trigger, history: History, *, writer: str | None, now: datetime.datetime, secret: str, certificate: str
) -> str:
    """Names the trigger that repeated (and who overwrote the Secret) and what to do about it."""
    times = history.repeats + 1
    span = _span(now - (history.since or now))
    writers = list(history.writers) + ([writer] if writer and writer not in history.writers else [])
    renew = f"kubectl annotate certificate {certificate} certwright.dev/renew=now"
    if trigger.reason == Reason.SECRET_MISSING:
        what = f"Secret {secret} was deleted {times} times in {span}"
        fix = f"Find what deletes it or give this Certificate its own spec.secretName, then run {renew}"
    elif trigger.reason in SECRET_TRIGGERS:
        by = f" by {', '.join(writers)}" if writers else ""
        what = f"Secret {secret} was overwritten{by} {times} times in {span}"
        fix = f"Stop the other writer or give this Certificate its own spec.secretName, then run {renew}"
    elif trigger.reason == Reason.RENEWAL_DUE:
        what = f"the CA's renewal information asked {times} times in {span} to replace a certificate just issued"
        fix = f"certwright follows the default renewal rule until the back-off ends; {renew} forces one issuance"
    else:
        what = f"{trigger.message}, {times} times in {span}"
        fix = f"fix the cause, then run {renew}"
    return (
        f"{what}, each time soon after an issuance (last: {trigger.message}). certwright stopped ordering so that "
        f"the CA's duplicate-certificate limit (Let's Encrypt: 5 a week) is not used up. {fix}"
    )


def _span(delta: datetime.timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 1)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} minutes"
    return f"{seconds // 3600} hours"


def foreign_writer(managed_fields: Sequence[Mapping[str, Any]], own: str) -> str | None:
    """The field manager other than ``own`` that last wrote the Secret's data or type, from ``managedFields``."""
    writes = [
        entry
        for entry in managed_fields
        if entry.get("manager") != own
        and any(key in (entry.get("fieldsV1") or {}) for key in ("f:data", "f:stringData", "f:type"))
    ]
    if not writes:
        return None
    latest = max(writes, key=lambda entry: str(entry.get("time") or ""))
    manager = latest.get("manager")
    return str(manager) if manager else None
