"""Whether a Gateway took the solver's HTTPRoute, read from the route's status (Gateway API).

The Gateway API's equivalent of the self-check's "hop that failed": a parent that refused the route
(``Accepted=False``: a listener that does not allow routes from this namespace, no listener for the
hostname, no such listener) or cannot reach its backend (``ResolvedRefs=False``) says why in its own
words, which the Certificate repeats with the Gateway and listener named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .conditions import Reason
from .specs import ParentRef


@dataclass(frozen=True)
class Verdict:
    """One parent's answer: ``accepted``, or refused with ``reason`` and a sentence."""

    accepted: bool
    reason: Reason | None = None
    message: str = ""


def same_parent(status_ref: Mapping[str, Any], ref: ParentRef, route_namespace: str) -> bool:
    """Whether a ``status.parents[].parentRef`` is the one ``ref`` asked for."""
    return (
        status_ref.get("name") == ref.name
        and (status_ref.get("namespace") or route_namespace) == (ref.namespace or route_namespace)
        and (status_ref.get("kind") or "Gateway") == ref.kind
        and (status_ref.get("sectionName") or None) == ref.section_name
        and (status_ref.get("port") or None) == ref.port
    )


def _where(ref: ParentRef, namespace: str) -> str:
    listener = f" listener {ref.section_name}" if ref.section_name else ""
    port = f" port {ref.port}" if ref.port else ""
    return f"{ref.kind} {namespace}/{ref.name}{listener}{port}"


def missing_gateway(ref: ParentRef, namespace: str) -> Verdict:
    return Verdict(
        False,
        Reason.GATEWAY_NOT_FOUND,
        f"{_where(ref, namespace)}, named in the solver's gatewayHTTPRoute.parentRefs, does not exist",
    )


def verdict(status: Mapping[str, Any] | None, ref: ParentRef, namespace: str, route: str) -> Verdict | None:
    """The parent's answer from its ``status.parents[]`` entry; None while it has not answered."""
    if status is None:
        return None
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    accepted, resolved = conditions.get("Accepted") or {}, conditions.get("ResolvedRefs") or {}
    where = _where(ref, namespace)
    if accepted.get("status") == "False":
        return Verdict(
            False,
            Reason.HTTP_ROUTE_NOT_ACCEPTED,
            f"{where} did not accept HTTPRoute {route} ({accepted.get('reason')}: {accepted.get('message') or ''})",
        )
    if resolved.get("status") == "False":
        return Verdict(
            False,
            Reason.HTTP_ROUTE_REFS_UNRESOLVED,
            f"{where} cannot route HTTPRoute {route} to the solver's Service "
            f"({resolved.get('reason')}: {resolved.get('message') or ''})",
        )
    if accepted.get("status") == "True":
        return Verdict(True)
    return None
