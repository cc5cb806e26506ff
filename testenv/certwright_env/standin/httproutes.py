"""Which HTTPRoute rule a request takes, with the specification's precedence (apis/v1/httproute_types.go).

Among the routes attached to our listeners, those whose hostnames match the request's host most
specifically win (most characters in a matching non-wildcard hostname, then in any matching hostname);
among their rules' matches: ``Exact`` path over ``PathPrefix``, the longer prefix first, then a method
match, more header matches, more query matches; ties go to the oldest route, then ``namespace/name``,
then the first rule. RegularExpression paths come after both (their precedence is left to
implementations). The rule's backendRef is a Service port; an invalid one gets 500, as the
specification requires. Every miss names the hop that failed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from .gateways import backend_problem, name_of, within
from .routing import Backend, Miss
from .watchcache import Obj


@dataclass(frozen=True)
class Attachment:
    """An accepted route on one of our served listeners, with the hostnames it serves there."""

    route: Obj
    hostnames: tuple[str, ...]  # empty: every host


@dataclass(frozen=True)
class Request:
    host: str
    path: str  # with the query string, as sent
    method: str = "GET"
    headers: Mapping[str, str] | None = None

    @property
    def bare_host(self) -> str:
        return self.host.lower().split(":", 1)[0]


def host_rank(hostnames: tuple[str, ...], host: str) -> tuple[int, int] | None:
    """How specifically ``hostnames`` match ``host`` (higher wins); (0, 0) for a route of every host; None: no match."""
    if not hostnames:
        return (0, 0)
    ranks = [(0 if h.startswith("*.") else len(h), len(h)) for h in hostnames if within(host, h)]
    return max(ranks) if ranks else None


def path_matches(kind: str, value: str, path: str) -> bool:
    if kind == "Exact":
        return path == value
    if kind == "RegularExpression":
        return re.fullmatch(value, path) is not None
    trimmed = value.rstrip("/")  # PathPrefix matches whole elements: /abc matches /abc/d, not /abcd
    return not trimmed or path == trimmed or path.startswith(trimmed + "/")


def match_rank(match: Obj) -> tuple[int, int, int, int, int]:
    path = match.get("path") or {}
    kind = path.get("type", "PathPrefix")
    score = {"Exact": 2, "PathPrefix": 1}.get(kind, 0)
    return (
        score,
        len(path.get("value", "/")) if score else 0,
        1 if match.get("method") else 0,
        len(match.get("headers") or []),
        len(match.get("queryParams") or []),
    )


def matches(match: Obj, request: Request) -> bool:
    path, _, query = request.path.partition("?")
    spec = match.get("path") or {}
    if not path_matches(spec.get("type", "PathPrefix"), spec.get("value", "/"), path):
        return False
    if match.get("method") and match["method"] != request.method:
        return False
    headers = {k.lower(): v for k, v in (request.headers or {}).items()}
    for header in match.get("headers") or []:
        value = headers.get(header.get("name", "").lower())
        if value is None or not _value_matches(header, value):
            return False
    params = dict(parse_qsl(query, keep_blank_values=True))
    for param in match.get("queryParams") or []:
        value = params.get(param.get("name", ""))
        if value is None or not _value_matches(param, value):
            return False
    return True


def _value_matches(spec: Obj, value: str) -> bool:
    if spec.get("type", "Exact") == "RegularExpression":
        return re.fullmatch(spec.get("value", ""), value) is not None
    return bool(value == spec.get("value"))


def select_route(
    attachments: list[Attachment], request: Request, services: Mapping[str, Obj], *, named_only: bool = False
) -> Backend | Miss | None:
    """The backend of the rule that takes ``request``; a Miss; or None when no route claims the host.

    With ``named_only``, routes that match every host do not claim it (the ingress half goes first then).
    """
    host = request.bare_host
    ranked = [(rank, a.route) for a in attachments if (rank := host_rank(a.hostnames, host)) is not None]
    if named_only:
        ranked = [(rank, route) for rank, route in ranked if rank != (0, 0)]
    if not ranked:
        return None
    best = max(rank for rank, _ in ranked)
    routes = list({name_of(route): route for rank, route in ranked if rank == best}.values())
    candidates = []
    for route in routes:
        created = route.get("metadata", {}).get("creationTimestamp", "")
        for index, rule in enumerate(route.get("spec", {}).get("rules") or [{}]):
            for match in rule.get("matches") or [{}]:
                if matches(match, request):
                    precedence = tuple(-x for x in match_rank(match))
                    candidates.append(((*precedence, created, name_of(route), index), route, rule))
    if not candidates:
        names = ", ".join(sorted(name_of(route) for route in routes))
        return Miss(
            404, f"gateway route: no rule of HTTPRoute {names} matches {request.method} {request.path} on {host}"
        )
    _, route, rule = min(candidates, key=lambda c: c[0])
    return _backend(route, rule, services)


def _backend(route: Obj, rule: Obj, services: Mapping[str, Obj]) -> Backend | Miss:
    """The rule's heaviest backendRef (the first of equals: the stand-in does not split traffic)."""
    refs = [ref for ref in rule.get("backendRefs") or [] if ref.get("weight", 1) > 0]
    if not refs:
        return Miss(500, f"gateway route: the matching rule of HTTPRoute {name_of(route)} has no backendRefs")
    ref = max(refs, key=lambda r: int(r.get("weight", 1)))  # max keeps the first of equals
    namespace = route["metadata"]["namespace"]
    problem = backend_problem(ref, namespace, services)
    if problem is not None:
        return Miss(500, f"backend service: {problem[1]} (from HTTPRoute {name_of(route)}: {problem[0]})")
    return Backend(ingress=name_of(route), namespace=namespace, service=ref["name"], port=ref["port"], kind="HTTPRoute")
