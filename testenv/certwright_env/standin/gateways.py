"""What a Gateway API implementation decides about its Gateways and HTTPRoutes, as pure functions.

The stand-in owns every GatewayClass whose ``controllerName`` is ``certwright.dev/stand-in``. Of a
Gateway of such a class, it serves the listeners of protocol HTTP on port 80 (on the environment's
address, the socket its ingress half uses); HTTPS listeners are accepted and their certificateRefs
resolved (so a certificate's arrival shows), but not served; other protocols and ports are refused.
An HTTPRoute attaches through its ``parentRefs`` as the specification says (sectionName, port,
``allowedRoutes`` namespaces and kinds, hostname intersection). Condition types and reasons are the
specification's own (sigs.k8s.io/gateway-api apis/v1: gateway_types.go, shared_types.go).
A parentRef to a Gateway that does not exist, or is not ours, gets no status: no controller owns it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..gatewayapi import GROUP, STANDIN_CONTROLLER

Obj = Mapping[str, Any]
HTTP_PORT = 80
ANY_HOST: tuple[str, ...] = ()  # a route or listener without hostnames matches every host


@dataclass(frozen=True)
class Condition:
    """A condition as the specification names it, before times and generations are added."""

    type: str
    status: bool
    reason: str
    message: str = ""


@dataclass
class Listener:
    """One listener of one of our Gateways, with what the stand-in made of it."""

    gateway: str  # namespace/name
    namespace: str
    name: str
    protocol: str
    port: int
    hostname: str | None
    spec: Obj
    kinds: tuple[str, ...]
    accepted: Condition
    resolved: Condition
    conflicted: Condition
    attached: int = 0

    @property
    def served(self) -> bool:
        """Traffic reaches it: accepted, unconflicted, refs resolved, and plain HTTP."""
        return self.programmed.status

    @property
    def programmed(self) -> Condition:
        if not self.accepted.status or self.conflicted.status:
            return Condition("Programmed", False, "Invalid", self.accepted.message or self.conflicted.message)
        if not self.resolved.status:
            return Condition("Programmed", False, "Invalid", self.resolved.message)
        if self.protocol == "HTTPS":
            return Condition("Programmed", False, "Pending", "the stand-in accepts HTTPS listeners but serves no TLS")
        return Condition("Programmed", True, "Programmed")


@dataclass
class ParentOutcome:
    """What became of one parentRef of an HTTPRoute."""

    parent_ref: Obj
    accepted: Condition
    listeners: list[tuple[Listener, tuple[str, ...]]] = field(default_factory=list)  # with the effective hostnames


def name_of(obj: Obj) -> str:
    meta = obj.get("metadata", {})
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def our_classes(classes: Iterable[Obj]) -> set[str]:
    return {c["metadata"]["name"] for c in classes if c.get("spec", {}).get("controllerName") == STANDIN_CONTROLLER}


def within(name: str, pattern: str) -> bool:
    """Every host ``name`` matches is matched by ``pattern`` (``*.example.test`` is a suffix of one or more labels)."""
    if name == pattern:
        return True
    return pattern.startswith("*.") and name.endswith(pattern[1:])


def intersect(listener_hostname: str | None, route_hostnames: list[str]) -> tuple[str, ...] | None:
    """The hostnames a route serves on a listener: ``ANY_HOST``, some, or None when they do not intersect."""
    if not route_hostnames:
        return (listener_hostname,) if listener_hostname else ANY_HOST
    if not listener_hostname:
        return tuple(route_hostnames)
    found: list[str] = []
    for hostname in route_hostnames:
        narrower = hostname if within(hostname, listener_hostname) else None
        narrower = narrower or (listener_hostname if within(listener_hostname, hostname) else None)
        if narrower and narrower not in found:
            found.append(narrower)
    return tuple(found) or None


def evaluate_listeners(gateway: Obj, tls_secrets: Mapping[str, Obj]) -> list[Listener]:
    """Each listener's Accepted, ResolvedRefs and Conflicted conditions (Programmed follows from them)."""
    namespace = gateway["metadata"]["namespace"]
    specs = gateway.get("spec", {}).get("listeners") or []
    conflicts = _conflicts(specs)
    listeners = []
    for spec in specs:
        protocol, port = spec.get("protocol", ""), int(spec.get("port", 0))
        kinds, unsupported = _route_kinds(spec) if protocol in ("HTTP", "HTTPS") else ((), [])
        if protocol not in ("HTTP", "HTTPS"):
            accepted = Condition("Accepted", False, "UnsupportedProtocol", f"the stand-in serves HTTP, not {protocol}")
        elif protocol == "HTTP" and port != HTTP_PORT:
            accepted = Condition("Accepted", False, "PortUnavailable", "the stand-in serves HTTP on port 80 only")
        else:
            accepted = Condition("Accepted", True, "Accepted")
        if unsupported:
            resolved = Condition("ResolvedRefs", False, "InvalidRouteKinds", f"unsupported kinds: {unsupported}")
        elif protocol == "HTTPS":
            resolved = _certificate_refs(spec, namespace, tls_secrets)
        else:
            resolved = Condition("ResolvedRefs", True, "ResolvedRefs")
        conflict = conflicts.get(spec.get("name", ""))
        conflicted = Condition("Conflicted", True, conflict[0], conflict[1]) if conflict else None
        listeners.append(
            Listener(
                gateway=name_of(gateway),
                namespace=namespace,
                name=spec.get("name", ""),
                protocol=protocol,
                port=port,
                hostname=spec.get("hostname") or None,
                spec=spec,
                kinds=kinds,
                accepted=accepted,
                resolved=resolved,
                conflicted=conflicted or Condition("Conflicted", False, "NoConflicts"),
            )
        )
    return listeners


def _route_kinds(spec: Obj) -> tuple[tuple[str, ...], list[str]]:
    """The route kinds a listener takes (only HTTPRoute here), and the ones asked for that are not supported."""
    asked = (spec.get("allowedRoutes") or {}).get("kinds")
    if not asked:
        return ("HTTPRoute",), []
    kinds = [(k.get("group", GROUP), k.get("kind", "")) for k in asked]
    supported = tuple(kind for group, kind in kinds if (group, kind) == (GROUP, "HTTPRoute"))
    return supported, [f"{group}/{kind}" for group, kind in kinds if (group, kind) != (GROUP, "HTTPRoute")]


def _certificate_refs(spec: Obj, namespace: str, tls_secrets: Mapping[str, Obj]) -> Condition:
    """A TLS listener's certificateRefs resolve when each is a Secret of type kubernetes.io/tls with a key pair."""
    tls = spec.get("tls") or {}
    if tls.get("mode", "Terminate") != "Terminate":
        return Condition("ResolvedRefs", True, "ResolvedRefs")
    refs = tls.get("certificateRefs") or []
    if not refs:
        return Condition("ResolvedRefs", False, "InvalidCertificateRef", "a Terminate listener needs certificateRefs")
    for ref in refs:
        key = f"{ref.get('namespace', namespace)}/{ref.get('name', '')}"
        if (ref.get("group", ""), ref.get("kind", "Secret")) != ("", "Secret"):
            message = f"certificateRef {key} is a {ref.get('kind')}: only core Secrets are supported"
            return Condition("ResolvedRefs", False, "InvalidCertificateRef", message)
        if ref.get("namespace", namespace) != namespace:
            message = f"Secret {key} is in another namespace (the stand-in does not read ReferenceGrants)"
            return Condition("ResolvedRefs", False, "RefNotPermitted", message)
        data = (tls_secrets.get(key) or {}).get("data") or {}
        if key not in tls_secrets:
            message = f"Secret {key} of type kubernetes.io/tls does not exist"
            return Condition("ResolvedRefs", False, "InvalidCertificateRef", message)
        if not data.get("tls.crt") or not data.get("tls.key"):
            message = f"Secret {key} lacks tls.crt or tls.key"
            return Condition("ResolvedRefs", False, "InvalidCertificateRef", message)
    return Condition("ResolvedRefs", True, "ResolvedRefs")


def _conflicts(specs: list[Obj]) -> dict[str, tuple[str, str]]:
    """Listeners that are not distinct: another protocol on the same port, or the same port and hostname."""
    found: dict[str, tuple[str, str]] = {}
    for spec in specs:
        for other in specs:
            if other is spec or other.get("port") != spec.get("port"):
                continue
            if other.get("protocol") != spec.get("protocol"):
                found[spec.get("name", "")] = ("ProtocolConflict", f"listener {other.get('name')} uses the same port")
            elif (other.get("hostname") or "") == (spec.get("hostname") or ""):
                found[spec.get("name", "")] = (
                    "HostnameConflict",
                    f"listener {other.get('name')} has the same hostname",
                )
    return found


def attach(route: Obj, listeners: Mapping[str, list[Listener]], namespaces: Mapping[str, Obj]) -> list[ParentOutcome]:
    """Each parentRef of ``route`` that names one of our Gateways (``listeners`` is keyed by them), and its fate."""
    route_namespace = route["metadata"]["namespace"]
    route_hostnames = [h.lower() for h in route.get("spec", {}).get("hostnames") or []]
    outcomes = []
    for ref in route.get("spec", {}).get("parentRefs") or []:
        if (ref.get("group", GROUP), ref.get("kind", "Gateway")) != (GROUP, "Gateway"):
            continue
        key = f"{ref.get('namespace', route_namespace)}/{ref.get('name', '')}"
        if key not in listeners:
            continue  # no such Gateway, or not ours: another controller's to answer, or nobody's
        outcomes.append(_attach_one(ref, key, listeners[key], route_namespace, route_hostnames, namespaces))
    return outcomes


def _attach_one(
    ref: Obj,
    key: str,
    listeners: list[Listener],
    route_namespace: str,
    route_hostnames: list[str],
    namespaces: Mapping[str, Obj],
) -> ParentOutcome:
    section, port = ref.get("sectionName"), ref.get("port")
    candidates = [
        listener
        for listener in listeners
        if (section is None or listener.name == section) and (port is None or listener.port == port)
    ]
    if not candidates:
        wanted = " and ".join(x for x in (section and f"named {section}", port and f"on port {port}") if x)
        return ParentOutcome(
            ref, Condition("Accepted", False, "NoMatchingParent", f"Gateway {key} has no listener {wanted}")
        )
    allowed = [
        listener
        for listener in candidates
        if listener.accepted.status
        and "HTTPRoute" in listener.kinds
        and _namespace_allowed(listener, route_namespace, namespaces)
    ]
    if not allowed:
        why = "; ".join(_refusal(listener, route_namespace) for listener in candidates)
        return ParentOutcome(ref, Condition("Accepted", False, "NotAllowedByListeners", why))
    matched = [
        (listener, hosts)
        for listener in allowed
        if (hosts := intersect(listener.hostname, route_hostnames)) is not None
    ]
    if not matched:
        names = ", ".join(f"{listener.name} ({listener.hostname})" for listener in allowed)
        message = f"no hostname of the route ({', '.join(route_hostnames)}) matches listeners {names}"
        return ParentOutcome(ref, Condition("Accepted", False, "NoMatchingListenerHostname", message))
    return ParentOutcome(ref, Condition("Accepted", True, "Accepted"), matched)


def _refusal(listener: Listener, route_namespace: str) -> str:
    if not listener.accepted.status:
        return f"listener {listener.name} is not accepted ({listener.accepted.reason})"
    if "HTTPRoute" not in listener.kinds:
        return f"listener {listener.name} does not take HTTPRoutes"
    allowed = ((listener.spec.get("allowedRoutes") or {}).get("namespaces") or {}).get("from", "Same")
    return f"listener {listener.name} takes routes from namespaces {allowed}, not from {route_namespace}"


def _namespace_allowed(listener: Listener, route_namespace: str, namespaces: Mapping[str, Obj]) -> bool:
    allowed = (listener.spec.get("allowedRoutes") or {}).get("namespaces") or {}
    source = allowed.get("from", "Same")
    if source == "All":
        return True
    if source == "Selector":
        labels = (namespaces.get(route_namespace) or {}).get("metadata", {}).get("labels") or {}
        return selector_matches(allowed.get("selector") or {}, labels)
    return route_namespace == listener.namespace


def selector_matches(selector: Obj, labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist)."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def resolve_backends(route: Obj, services: Mapping[str, Obj]) -> Condition:
    """ResolvedRefs of a route: every backendRef is a Service in the route's namespace that has the port."""
    route_namespace = route["metadata"]["namespace"]
    for rule in route.get("spec", {}).get("rules") or []:
        for ref in rule.get("backendRefs") or []:
            problem = backend_problem(ref, route_namespace, services)
            if problem is not None:
                return Condition("ResolvedRefs", False, problem[0], problem[1])
    return Condition("ResolvedRefs", True, "ResolvedRefs")


def backend_problem(ref: Obj, route_namespace: str, services: Mapping[str, Obj]) -> tuple[str, str] | None:
    """Why a backendRef does not resolve (reason, message), or None."""
    namespace = ref.get("namespace", route_namespace)
    key = f"{namespace}/{ref.get('name', '')}"
    if (ref.get("group", ""), ref.get("kind", "Service")) != ("", "Service"):
        return (
            "InvalidKind",
            f"backendRef {key} is a {ref.get('group', '')}/{ref.get('kind')}: only Services are supported",
        )
    if namespace != route_namespace:
        return "RefNotPermitted", f"Service {key} is in another namespace (the stand-in does not read ReferenceGrants)"
    service = services.get(key)
    if service is None:
        return "BackendNotFound", f"Service {key} does not exist"
    ports = [p.get("port") for p in service.get("spec", {}).get("ports") or []]
    if ref.get("port") not in ports:
        return "BackendNotFound", f"Service {key} has no port {ref.get('port')} (it has: {ports})"
    return None
