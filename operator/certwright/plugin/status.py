"""``kubectl certwright status NAME``: one Certificate with its Secret, issuer, order, Challenges and Events.

What a person otherwise collects with five commands (get certificate, get secret | openssl, get issuer,
get challenges, get events), read once and shown as one report.
"""

from __future__ import annotations

import datetime
from typing import Any

from ..domain import api
from ..domain.conditions import parse_timestamp
from ..kube.builders import label_value
from .cluster import Obj, Reader
from .errors import NoSuchObject, PluginError
from .inspection import inspect_data
from .listing import days_left

RECENT_EVENTS = 10


def gather(cluster: Reader, namespace: str, name: str, now: datetime.datetime) -> dict[str, Any]:
    """Everything ``status`` shows, as one dict (also what ``-o json|yaml`` prints)."""
    certificate = cluster.get_custom(api.CERTIFICATES, namespace, name)
    if certificate is None:
        raise NoSuchObject(f'Certificate "{name}" not found in namespace {namespace}')
    spec, status = certificate.get("spec") or {}, certificate.get("status") or {}
    not_after = parse_timestamp(status.get("notAfter"))
    report: dict[str, Any] = {
        "certificate": {
            "namespace": namespace,
            "name": name,
            "dnsNames": spec.get("dnsNames") or [],
            "secretName": spec.get("secretName"),
            "conditions": status.get("conditions") or [],
            "notBefore": status.get("notBefore"),
            "notAfter": status.get("notAfter"),
            "daysLeft": days_left(not_after, now) if not_after else None,
            "renewalTime": status.get("renewalTime"),
            "revision": status.get("revision"),
            "failedIssuanceAttempts": status.get("failedIssuanceAttempts"),
            "nextAttemptTime": status.get("nextAttemptTime"),
            "renewRequested": api.ANNOTATION_RENEW in (certificate["metadata"].get("annotations") or {}),
        },
        "secret": _secret(cluster, namespace, spec.get("secretName"), now),
        "issuer": _issuer(cluster, namespace, spec.get("issuerRef") or {}),
        "order": status.get("order"),
        "challenges": _challenges(cluster, namespace, name),
        "events": [_event(e) for e in _events(cluster, namespace, name)],
    }
    return report


def _secret(cluster: Reader, namespace: str, secret_name: str | None, now: datetime.datetime) -> dict[str, Any]:
    if not secret_name:
        return {"error": "the Certificate names no Secret"}
    try:
        secret = cluster.get_secret(namespace, secret_name)
    except PluginError as error:  # no RBAC for Secrets: the rest of the report still helps
        return {"name": secret_name, "error": str(error)}
    if secret is None:
        return {"name": secret_name, "error": "does not exist yet"}
    report = inspect_data(secret.get("data") or {}, now)
    leaf = report.chain[0] if report.chain else None
    return {
        "name": secret_name,
        "type": secret.get("type"),
        "dnsNames": list(leaf.dns_names) if leaf else [],
        "serial": leaf.serial if leaf else None,
        "notBefore": leaf.to_dict()["notBefore"] if leaf else None,
        "notAfter": leaf.to_dict()["notAfter"] if leaf else None,
        "issuer": leaf.issuer if leaf else None,
        "keyType": report.key_type,
        "problems": list(report.problems),
    }


def _issuer(cluster: Reader, namespace: str, ref: dict[str, Any]) -> dict[str, Any]:
    kind, name = ref.get("kind") or "Issuer", ref.get("name") or ""
    cluster_scoped = kind == "ClusterIssuer"
    plural = api.CLUSTER_ISSUERS if cluster_scoped else api.ISSUERS
    found = {"kind": kind, "name": name}
    try:
        issuer = cluster.get_custom(plural, None if cluster_scoped else namespace, name)
    except PluginError as error:
        return {**found, "error": str(error)}
    if issuer is None:
        return {**found, "error": "does not exist"}
    status = issuer.get("status") or {}
    acme = (issuer.get("spec") or {}).get("acme") or {}
    return {
        **found,
        "server": acme.get("server"),
        "email": acme.get("email"),
        "conditions": status.get("conditions") or [],
        "account": (status.get("acme") or {}).get("uri"),
    }


def _challenges(cluster: Reader, namespace: str, name: str) -> list[dict[str, Any]]:
    selector = f"{api.LABEL_CERTIFICATE}={label_value(name)}"
    try:
        found = cluster.list_custom(api.CHALLENGES, namespace, selector)
    except PluginError as error:
        return [{"error": str(error)}]
    return [
        {
            "name": c["metadata"]["name"],
            "dnsName": (c.get("spec") or {}).get("dnsName"),
            "type": (c.get("spec") or {}).get("type"),
            "state": (c.get("status") or {}).get("state"),
            "reason": (c.get("status") or {}).get("reason"),
        }
        for c in found
        if (c.get("spec") or {}).get("certificateName") in (None, name)
    ]


def _events(cluster: Reader, namespace: str, name: str) -> list[Obj]:
    try:
        return cluster.events(namespace, "Certificate", name)[-RECENT_EVENTS:]
    except PluginError:
        return []


def _event(event: Obj) -> dict[str, Any]:
    return {
        "time": event.get("lastTimestamp") or event.get("eventTime"),
        "type": event.get("type"),
        "reason": event.get("reason"),
        "message": event.get("message"),
        "count": event.get("count"),
    }


def render(report: dict[str, Any]) -> str:
    """The report as text, a section per object."""
    c = report["certificate"]
    lines = [f"Certificate {c['namespace']}/{c['name']}", f"  DNS names:    {', '.join(c['dnsNames'])}"]
    for condition in c["conditions"]:
        lines.append(
            f"  {_condition(condition)} since {condition.get('lastTransitionTime')}: {condition.get('message')}"
        )
    days = "" if c["daysLeft"] is None else f" ({c['daysLeft']} days left)"
    lines += [
        f"  Not before:   {c['notBefore'] or '-'}",
        f"  Not after:    {c['notAfter'] or '-'}{days}",
        f"  Renewal time: {c['renewalTime'] or '-'}",
        f"  Revision:     {c['revision'] or '-'}",
    ]
    if c["failedIssuanceAttempts"]:
        lines.append(f"  Failed issuances: {c['failedIssuanceAttempts']}, next attempt {c['nextAttemptTime']}")
    if c["renewRequested"]:
        lines.append(f"  Renewal requested ({api.ANNOTATION_RENEW}), not yet acted on")
    s = report["secret"]
    lines.append(f"Secret {s.get('name') or '-'}")
    if "error" in s:
        lines.append(f"  {s['error']}")
    else:
        lines += [
            f"  DNS names:    {', '.join(s['dnsNames'])}",
            f"  Valid:        {s['notBefore']} to {s['notAfter']}",
            f"  Serial:       {s['serial']}",
            f"  Issued by:    {s['issuer']}",
            f"  Key:          {s['keyType'] or '-'}",
            "  Problems:     " + ("; ".join(s["problems"]) or "none"),
        ]
    i = report["issuer"]
    lines.append(f"{i['kind']} {i['name']}")
    if "error" in i:
        lines.append(f"  {i['error']}")
    else:
        lines.append(f"  Server:       {i['server']}")
        lines.append(f"  Account:      {i['account'] or '-'}")
        for condition in i["conditions"]:
            lines.append(f"  {_condition(condition)}: {condition.get('message')}")
    order = report["order"]
    lines.append(f"Order: {order.get('state')} {order.get('url')}" if order else "Order: none in flight")
    lines.append("Challenges:" if report["challenges"] else "Challenges: none")
    for ch in report["challenges"]:
        lines.append(
            f"  {ch['error']}"
            if "error" in ch
            else f"  {ch['name']} {ch['type']} {ch['dnsName']}: {ch['state']} {ch['reason'] or ''}".rstrip()
        )
    lines.append("Events:" if report["events"] else "Events: none")
    for e in report["events"]:
        lines.append(f"  {e['time']} {e['type']} {e['reason']}: {e['message']}")
    return "\n".join(lines)


def _condition(condition: dict[str, Any]) -> str:
    return f"{condition.get('type')}: {condition.get('status')} ({condition.get('reason')})"
