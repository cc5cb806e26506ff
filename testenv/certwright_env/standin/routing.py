"""How an ingress controller picks a backend for a request: Ingress rule, then Service, then Pod.

Pure functions over plain API objects (dicts), with the semantics ingress-nginx applies:
- an Ingress is ours when ``spec.ingressClassName`` (or the legacy ``kubernetes.io/ingress.class``
  annotation) names our class; Ingresses without a class are ignored, as with ingress-nginx's default
  ``--watch-ingress-without-class=false``;
- strict path validation (on by default since ingress-nginx 1.12): an ``Exact`` or ``Prefix`` path must
  match ``^/[A-Za-z0-9/_-]*$``, otherwise the Ingress is rejected — which is why a solver Ingress for
  ``/.well-known/acme-challenge/<token>`` must use ``ImplementationSpecific`` (cert-manager #7791);
- a rule for the exact host wins over a wildcard rule, which wins over a rule without a host;
- among paths, ``Exact`` wins, then the longest ``Prefix`` (matched element by element) or
  ``ImplementationSpecific`` path (matched as a plain string prefix, as an nginx ``location``).
Every miss carries the hop that failed, in words, for the stand-in's log and response header.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Obj = Mapping[str, Any]
_STRICT_PATH = re.compile(r"^/[A-Za-z0-9/_-]*$")


@dataclass(frozen=True)
class Backend:
    """Where a request goes: a Service port in the namespace of the Ingress (or HTTPRoute) that names it."""

    ingress: str  # the Ingress's (or HTTPRoute's) namespace/name
    namespace: str
    service: str
    port: int | str
    kind: str = "Ingress"


@dataclass(frozen=True)
class Endpoint:
    """A Ready Pod address to proxy to."""

    pod: str
    address: str
    port: int


@dataclass(frozen=True)
class Miss:
    """No route: the HTTP status an ingress controller gives, and which hop failed."""

    status: int
    hop: str


def name_of(obj: Obj) -> str:
    meta = obj.get("metadata", {})
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def class_of(ingress: Obj) -> str | None:
    spec_class: str | None = ingress.get("spec", {}).get("ingressClassName")
    legacy: str | None = (ingress.get("metadata", {}).get("annotations") or {}).get("kubernetes.io/ingress.class")
    return spec_class or legacy


def rejection(ingress: Obj) -> str | None:
    """Why ingress-nginx's admission would refuse this Ingress, or None."""
    for rule in ingress.get("spec", {}).get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            kind = path.get("pathType", "ImplementationSpecific")
            value = path.get("path", "/")
            if kind in ("Exact", "Prefix") and not _STRICT_PATH.match(value):
                return f"path {value} cannot be used with pathType {kind} (strict path validation)"
    return None


def _host_matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


def _path_matches(kind: str, path: str, request_path: str) -> bool:
    if kind == "Exact":
        return request_path == path
    if kind == "Prefix":
        trimmed = path.rstrip("/")
        return not trimmed or request_path == trimmed or request_path.startswith(trimmed + "/")
    return request_path.startswith(path)


def select_backend(ingresses: Iterable[Obj], ingress_class: str, host: str, request_path: str) -> Backend | Miss:
    """The Ingress backend for ``host`` and ``request_path``, or the reason there is none."""
    host = host.lower().split(":", 1)[0]
    ours, foreign, rejected = [], [], []
    for ingress in ingresses:
        if class_of(ingress) != ingress_class:
            foreign.append(ingress)
        elif (reason := rejection(ingress)) is not None:
            rejected.append((ingress, reason))
        else:
            ours.append(ingress)

    for tier in ("exact", "wildcard", "any"):
        rules = [
            (ing, rule) for ing in ours for rule in ing.get("spec", {}).get("rules") or [] if _tier(rule, host) == tier
        ]
        if rules:
            return _select_path(rules, host, request_path)

    hints = [f"Ingress {name_of(ing)} was rejected: {reason}" for ing, reason in rejected if _serves_host(ing, host)]
    hints += [
        f"Ingress {name_of(ing)} has a rule for {host} but class {class_of(ing)!r}, not {ingress_class!r}"
        for ing in foreign
        if _serves_host(ing, host)
    ]
    detail = "; ".join(hints) if hints else "no Ingress has a rule for it"
    return Miss(404, f"ingress: no Ingress of class {ingress_class!r} serves host {host}: {detail}")


def _tier(rule: Obj, host: str) -> str | None:
    pattern = rule.get("host")
    if not pattern:
        return "any"
    if pattern.lower() == host:
        return "exact"
    if pattern.startswith("*.") and _host_matches(pattern.lower(), host):
        return "wildcard"
    return None


def _serves_host(ingress: Obj, host: str) -> bool:
    return any(_tier(rule, host) is not None for rule in ingress.get("spec", {}).get("rules") or [])


def _select_path(rules: list[tuple[Obj, Obj]], host: str, request_path: str) -> Backend | Miss:
    candidates = []
    for ingress, rule in rules:
        for path in (rule.get("http") or {}).get("paths") or []:
            kind = path.get("pathType", "ImplementationSpecific")
            value = path.get("path", "/")
            if _path_matches(kind, value, request_path):
                rank = (1 if kind == "Exact" else 0, len(value))
                candidates.append((rank, ingress, path))
    if not candidates:
        listed = sorted(
            f"{p.get('path', '/')} ({p.get('pathType', 'ImplementationSpecific')})"
            for _, rule in rules
            for p in (rule.get("http") or {}).get("paths") or []
        )
        return Miss(404, f"ingress: host {host} has no path matching {request_path}; its paths: {', '.join(listed)}")
    _, ingress, path = max(candidates, key=lambda c: c[0])
    service = (path.get("backend") or {}).get("service") or {}
    port = service.get("port") or {}
    meta = ingress["metadata"]
    return Backend(
        ingress=name_of(ingress),
        namespace=meta.get("namespace", "default"),
        service=service.get("name", ""),
        port=port.get("number") or port.get("name") or 0,
    )


def _service_port(backend: Backend, services: Mapping[str, Obj]) -> tuple[str, Obj, Obj] | Miss:
    """The backend's Service (its key and spec) and the port the Ingress names, or which of them is missing."""
    key = f"{backend.namespace}/{backend.service}"
    service = services.get(key)
    if service is None:
        return Miss(503, f"service: Service {key} (from {backend.kind} {backend.ingress}) does not exist")
    spec = service.get("spec", {})
    service_port = next((p for p in spec.get("ports") or [] if backend.port in (p.get("port"), p.get("name"))), None)
    if service_port is None:
        offered = ", ".join(str(p.get("name") or p.get("port")) for p in spec.get("ports") or [])
        return Miss(503, f"service: Service {key} has no port {backend.port} (it has: {offered or 'none'})")
    return key, spec, service_port


def select_endpoint(backend: Backend, services: Mapping[str, Obj], pods: Iterable[Obj]) -> Endpoint | Miss:
    """Resolve a backend through its Service (port, targetPort, selector) to a Ready Pod."""
    found = _service_port(backend, services)
    if isinstance(found, Miss):
        return found
    key, spec, service_port = found
    selector = spec.get("selector") or {}
    if not selector:
        return Miss(503, f"service: Service {key} has no selector, so it has no endpoints")
    matching = [
        pod
        for pod in pods
        if pod.get("metadata", {}).get("namespace") == backend.namespace
        and all((pod.get("metadata", {}).get("labels") or {}).get(k) == v for k, v in selector.items())
        and not pod.get("metadata", {}).get("deletionTimestamp")
    ]
    if not matching:
        return Miss(503, f"endpoints: no Pod in {backend.namespace} matches the selector {selector} of Service {key}")
    ready = [pod for pod in matching if _ready(pod) and pod.get("status", {}).get("podIP")]
    if not ready:
        names = ", ".join(sorted(name_of(p) for p in matching))
        return Miss(503, f"endpoints: Pods {names} match Service {key} but none is Ready")
    pod = sorted(ready, key=name_of)[0]
    target = service_port.get("targetPort", service_port.get("port"))
    port = _container_port(pod, target)
    if port is None:
        return Miss(503, f"endpoints: Pod {name_of(pod)} has no container port named {target!r} (Service {key})")
    return Endpoint(pod=name_of(pod), address=pod["status"]["podIP"], port=port)


def select_slice_endpoint(
    backend: Backend, services: Mapping[str, Obj], slices: Iterable[Obj], pods: Iterable[Obj]
) -> Endpoint | Miss:
    """As ingress-nginx on a real node: the Service's port, then a ready address from its EndpointSlices.

    The Pods are only read to say why there is no endpoint (no Pod matches, or none is Ready).
    """
    found = _service_port(backend, services)
    if isinstance(found, Miss):
        return found
    key, _, service_port = found
    port_name = service_port.get("name") or ""
    candidates = []
    for endpoint_slice in slices:
        meta = endpoint_slice.get("metadata", {})
        if meta.get("namespace") != backend.namespace:
            continue
        if (meta.get("labels") or {}).get("kubernetes.io/service-name") != backend.service:
            continue
        ports = endpoint_slice.get("ports") or []
        port = next((p.get("port") for p in ports if (p.get("name") or "") == port_name), None)
        for endpoint in endpoint_slice.get("endpoints") or []:
            if port is not None and (endpoint.get("conditions") or {}).get("ready") and endpoint.get("addresses"):
                address = endpoint["addresses"][0]
                pod = (endpoint.get("targetRef") or {}).get("name", address)
                candidates.append(Endpoint(pod=f"{backend.namespace}/{pod}", address=address, port=port))
    if candidates:
        return sorted(candidates, key=lambda e: e.pod)[0]
    explained = select_endpoint(backend, services, pods)
    if isinstance(explained, Miss):
        return explained
    wanted = port_name or backend.port
    return Miss(503, f"endpoints: the EndpointSlices of Service {key} list no ready address for port {wanted} yet")


def _ready(pod: Obj) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _container_port(pod: Obj, target: int | str) -> int | None:
    if isinstance(target, int):
        return target
    if target.isdigit():
        return int(target)
    for container in pod.get("spec", {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == target:
                number: int = port["containerPort"]
                return number
    return None
