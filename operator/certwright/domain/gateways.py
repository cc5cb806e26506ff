"""Which Certificates an annotated Gateway (``gateway.networking.k8s.io/v1``) asks for: one per Secret
that its TLS-terminating listeners name, with the hostnames of every such listener, as cert-manager's
gateway-shim does (``handleGatewayAPIListeners``, issue 14).

Listeners that need no certificate from us are skipped without a word, as cert-manager skips them:
other protocols, Passthrough mode (the backend holds the certificate), and the listeners named in
``cert-manager.io/ignore-tls-listeners`` (a comma-separated list of listener names, each compared
exactly after trimming spaces). A listener that should have one but cannot (no hostname, no Secret,
a reference to another kind or namespace) is a problem, and any problem means nothing is done.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import api
from .shim import Plan, annotated_issuer, annotations_of, certificate_spec, options
from .specs import IssuerRef, SpecError

GATEWAY_GROUP = "gateway.networking.k8s.io"
IGNORE_TLS_LISTENERS = (f"{api.GROUP}/ignore-tls-listeners", "cert-manager.io/ignore-tls-listeners")
TLS_PROTOCOLS = ("HTTPS", "TLS")  # compared exactly, as the Gateway API and cert-manager do


def plan_for(gateway: Mapping[str, Any]) -> Plan:
    annotations = annotations_of(gateway)
    try:
        issuer = annotated_issuer(annotations)
    except ValueError as error:
        return Plan(managed=True, problems=(str(error),))
    if issuer is None:
        return Plan(managed=False)
    try:
        extra = options(annotations)
    except (SpecError, ValueError) as error:
        return Plan(managed=True, problems=(str(error),))
    return _certificates(gateway, issuer, extra, ignored_listeners(annotations))


def ignored_listeners(annotations: Mapping[str, str]) -> set[str]:
    """The listener names ``ignore-tls-listeners`` lists (certwright's key first, then cert-manager's)."""
    value = next((annotations[key] for key in IGNORE_TLS_LISTENERS if annotations.get(key)), "")
    return {name.strip() for name in value.split(",") if name.strip()}


def _certificates(gateway: Mapping[str, Any], issuer: IssuerRef, extra: dict[str, Any], ignored: set[str]) -> Plan:
    namespace = (gateway.get("metadata") or {}).get("namespace")
    problems: list[str] = []
    hosts: dict[str, list[str]] = {}  # Secret name → hostnames, in listener order
    for index, listener in enumerate((gateway.get("spec") or {}).get("listeners") or []):
        tls = listener.get("tls")
        if listener.get("protocol") not in TLS_PROTOCOLS or listener.get("name") in ignored:
            continue
        if tls is not None and tls.get("mode") == "Passthrough":
            continue
        found = _listener_problems(listener, namespace)
        where = f"spec.listeners[{index}] ({listener.get('name')})"
        problems.extend(f"{where} {problem}" for problem in found)
        if not found:
            for reference in tls["certificateRefs"]:
                hosts.setdefault(reference["name"], []).append(listener["hostname"])
    if problems:
        return Plan(managed=True, problems=tuple(problems))
    wanted = {secret: certificate_spec(secret, names, issuer, extra) for secret, names in hosts.items()}
    return Plan(managed=True, certificates=wanted)


def _listener_problems(listener: Mapping[str, Any], namespace: str | None) -> list[str]:
    """Why a TLS-terminating listener cannot have a certificate made for it (none: it can)."""
    problems: list[str] = []
    if not listener.get("hostname"):
        problems.append("has no hostname: a certificate needs the name it is for")
    tls = listener.get("tls")
    if tls is None:
        return [*problems, "has no tls: name the Secret the certificate goes to in tls.certificateRefs"]
    if tls.get("mode", "Terminate") != "Terminate":
        problems.append(f"has tls.mode {tls.get('mode')!r}: only Terminate listeners get certificates")
    references = tls.get("certificateRefs") or []
    if not references:
        problems.append("has no tls.certificateRefs: name the Secret the certificate goes to")
    for position, reference in enumerate(references):
        where = f"tls.certificateRefs[{position}]"
        group, kind = reference.get("group") or "", reference.get("kind") or "Secret"
        if group not in ("", "core") or kind != "Secret":
            problems.append(f"{where} is a {kind} of group {group!r}: certificates go to core Secrets only")
        elif (reference.get("namespace") or namespace) != namespace:
            problems.append(
                f"{where} names a Secret in namespace {reference['namespace']}: a Certificate and its Secret "
                f"live in the Gateway's namespace ({namespace})"
            )
        elif not reference.get("name"):
            problems.append(f"{where} has no name: name the Secret the certificate goes to")
    return problems
