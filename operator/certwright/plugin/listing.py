"""``kubectl certwright list``: a row per Certificate, as ``certbot certificates`` shows them, soonest expiry first."""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..domain.conditions import ConditionType, find_condition, parse_timestamp

EXPIRY_WARNING = datetime.timedelta(days=7)  # as the chart's alert: a certificate expiring within 7 days


@dataclass(frozen=True)
class Row:
    """What ``list`` shows of one Certificate; ``attention`` holds the markers, worst first."""

    namespace: str
    name: str
    issuer: str
    dns_names: tuple[str, ...]
    ready: str
    reason: str
    message: str
    not_after: datetime.datetime | None
    days_left: int | None
    renewal_time: datetime.datetime | None
    attention: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """For ``-o json|yaml``: camelCase, times as Kubernetes writes them."""
        return {
            "namespace": self.namespace,
            "name": self.name,
            "issuer": self.issuer,
            "dnsNames": list(self.dns_names),
            "ready": self.ready,
            "reason": self.reason,
            "message": self.message,
            "notAfter": _stamp(self.not_after),
            "daysLeft": self.days_left,
            "renewalTime": _stamp(self.renewal_time),
            "attention": list(self.attention),
        }


def days_left(not_after: datetime.datetime, now: datetime.datetime) -> int:
    """Whole days until expiry, rounded down: 0 on the last day, negative once expired (-1 on the first day after)."""
    return math.floor((not_after - now) / datetime.timedelta(days=1))


def row(certificate: Mapping[str, Any], now: datetime.datetime) -> Row:
    """The row of one Certificate as the API server returned it."""
    meta, spec, status = certificate["metadata"], certificate.get("spec") or {}, certificate.get("status") or {}
    ref = spec.get("issuerRef") or {}
    ready = find_condition(status.get("conditions") or [], ConditionType.READY) or {}
    issuing = find_condition(status.get("conditions") or [], ConditionType.ISSUING) or {}
    not_after = parse_timestamp(status.get("notAfter"))
    renewal = parse_timestamp(status.get("renewalTime"))
    left = days_left(not_after, now) if not_after else None
    return Row(
        namespace=meta.get("namespace", ""),
        name=meta["name"],
        issuer=f"{ref.get('kind') or 'Issuer'}/{ref.get('name', '')}",
        dns_names=tuple(spec.get("dnsNames") or ()),
        ready=str(ready.get("status") or "Unknown"),
        reason=str(ready.get("reason") or ""),
        message=str(ready.get("message") or ""),
        not_after=not_after,
        days_left=left,
        renewal_time=renewal,
        attention=markers(
            ready=ready.get("status") == "True",
            reason=str(ready.get("reason") or ""),
            issuing=issuing.get("status") == "True",
            failures=int(status.get("failedIssuanceAttempts") or 0),
            not_after=not_after,
            renewal_time=renewal,
            now=now,
        ),
    )


def markers(
    *,
    ready: bool,
    reason: str,
    issuing: bool,
    failures: int,
    not_after: datetime.datetime | None,
    renewal_time: datetime.datetime | None,
    now: datetime.datetime,
) -> tuple[str, ...]:
    """What needs a person's attention, worst first; none for a Ready certificate that renews in time."""
    found = []
    if not_after is None:
        found.append("never issued")
    elif not_after <= now:
        found.append("EXPIRED")
    elif not_after - now <= EXPIRY_WARNING:
        found.append("expires within 7 days")
    if not ready:
        found.append(f"not Ready ({reason})" if reason else "not Ready")
    if failures:
        found.append(f"{failures} failed issuance{'s' if failures > 1 else ''}")
    if renewal_time is not None and renewal_time < now < (not_after or now) and not issuing:
        found.append("renewal overdue")
    if issuing:
        found.append("issuing")
    return tuple(found)


def rows(certificates: Iterable[Mapping[str, Any]], now: datetime.datetime) -> list[Row]:
    """Rows sorted by expiry, soonest first; never-issued Certificates before all (they need a look first)."""
    built = [row(certificate, now) for certificate in certificates]
    never = datetime.datetime.min.replace(tzinfo=datetime.UTC)
    return sorted(built, key=lambda r: (r.not_after or never, r.namespace, r.name))


def table(found: Sequence[Row], *, all_namespaces: bool) -> str:
    """The rows as aligned columns, with a header; ``!`` starts the notes of a row that needs attention."""
    header = [*(["NAMESPACE"] if all_namespaces else []), "NAME", "READY", "EXPIRES", "DAYS", "RENEWS", "ISSUER"]
    lines = [[*header, "NAMES", "NOTES"]]
    for r in found:
        ready = f"{r.ready} ({r.reason})" if r.reason and r.ready != "True" else r.ready
        lines.append(
            [
                *([r.namespace] if all_namespaces else []),
                r.name,
                ready,
                _short(r.not_after),
                "-" if r.days_left is None else str(r.days_left),
                _short(r.renewal_time),
                r.issuer,
                ",".join(r.dns_names),
                ("! " + "; ".join(r.attention)) if r.attention else "",
            ]
        )
    return columns(lines)


def columns(lines: Sequence[Sequence[str]]) -> str:
    """Cells padded to their column's width, three spaces apart, as kubectl prints tables."""
    widths = [max(len(line[index]) for line in lines) for index in range(len(lines[0]))]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _short(moment: datetime.datetime | None) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M") if moment else "-"


def _stamp(moment: datetime.datetime | None) -> str | None:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None
