"""The stand-in decides about Gateways and HTTPRoute attachment as the Gateway API specification says."""

from __future__ import annotations

from typing import Any

import pytest

from certwright_env.standin.gateways import (
    Listener,
    attach,
    evaluate_listeners,
    intersect,
    resolve_backends,
    selector_matches,
)


def gateway(*listeners: dict[str, Any], namespace: str = "infra") -> dict[str, Any]:
    return {"metadata": {"name": "gw", "namespace": namespace}, "spec": {"listeners": list(listeners)}}


def http(name: str = "http", port: int = 80, **extra: Any) -> dict[str, Any]:
    return {"name": name, "protocol": "HTTP", "port": port, **extra}


def route(namespace: str, *parent_refs: dict[str, Any], hostnames: list[str] | None = None) -> dict[str, Any]:
    spec = {"parentRefs": list(parent_refs), "hostnames": hostnames or [], "rules": []}
    return {"metadata": {"name": "r", "namespace": namespace}, "spec": spec}


@pytest.mark.parametrize(
    ("listener", "route_hostnames", "expected"),
    [
        (None, [], ()),
        ("a.test", [], ("a.test",)),
        (None, ["a.test"], ("a.test",)),
        ("a.test", ["a.test", "b.test"], ("a.test",)),
        (
            "*.example.test",
            ["x.example.test", "x.y.example.test", "example.test"],
            ("x.example.test", "x.y.example.test"),
        ),
        ("x.example.test", ["*.example.test"], ("x.example.test",)),
        ("*.example.test", ["*.a.example.test"], ("*.a.example.test",)),
        ("a.test", ["b.test"], None),
        ("*.example.test", ["example.test"], None),
    ],
    ids=[
        "neither-names-one",
        "listener-only",
        "route-only",
        "exact",
        "listener-wildcard-keeps-the-route-names-below-it",
        "route-wildcard-narrowed-to-the-listener",
        "nested-wildcards",
        "disjoint",
        "wildcard-excludes-its-apex",
    ],
)
def test_hostnames_intersect(
    listener: str | None, route_hostnames: list[str], expected: tuple[str, ...] | None
) -> None:
    assert intersect(listener, route_hostnames) == expected


def reasons(listener: Listener) -> dict[str, tuple[bool, str]]:
    conditions = (listener.accepted, listener.programmed, listener.resolved, listener.conflicted)
    return {c.type: (c.status, c.reason) for c in conditions}


TLS = {"tls.crt": "Y2VydA==", "tls.key": "a2V5"}


@pytest.mark.parametrize(
    ("spec", "secrets", "expected"),
    [
        (http(), {}, {"Accepted": (True, "Accepted"), "Programmed": (True, "Programmed")}),
        (http(port=8080), {}, {"Accepted": (False, "PortUnavailable"), "Programmed": (False, "Invalid")}),
        ({"name": "t", "protocol": "TCP", "port": 80}, {}, {"Accepted": (False, "UnsupportedProtocol")}),
        (
            {"name": "s", "protocol": "HTTPS", "port": 443, "tls": {"certificateRefs": [{"name": "c"}]}},
            {},
            {"ResolvedRefs": (False, "InvalidCertificateRef"), "Programmed": (False, "Invalid")},
        ),
        (
            {"name": "s", "protocol": "HTTPS", "port": 443, "tls": {"certificateRefs": [{"name": "c"}]}},
            {"infra/c": {"data": TLS}},
            {"Accepted": (True, "Accepted"), "ResolvedRefs": (True, "ResolvedRefs"), "Programmed": (False, "Pending")},
        ),
        (
            {
                "name": "s",
                "protocol": "HTTPS",
                "port": 443,
                "tls": {"certificateRefs": [{"name": "c", "namespace": "x"}]},
            },
            {"x/c": {"data": TLS}},
            {"ResolvedRefs": (False, "RefNotPermitted")},
        ),
        (
            http(allowedRoutes={"kinds": [{"kind": "GRPCRoute"}]}),
            {},
            {"ResolvedRefs": (False, "InvalidRouteKinds"), "Programmed": (False, "Invalid")},
        ),
    ],
    ids=[
        "http-80",
        "http-other-port",
        "tcp",
        "https-secret-missing",
        "https-secret-present",
        "https-secret-elsewhere",
        "unsupported-route-kind",
    ],
)
def test_listener_conditions(spec: dict[str, Any], secrets: dict[str, Any], expected: dict[str, Any]) -> None:
    [listener] = evaluate_listeners(gateway(spec), secrets)

    assert {k: v for k, v in reasons(listener).items() if k in expected} == expected


def test_listeners_on_one_port_with_different_protocols_conflict() -> None:
    https = {"name": "s", "protocol": "HTTPS", "port": 80, "tls": {"certificateRefs": [{"name": "c"}]}}

    listeners = evaluate_listeners(gateway(http(), https), {})

    assert [reasons(x)["Conflicted"] for x in listeners] == [(True, "ProtocolConflict")] * 2
    assert not listeners[0].served


NAMESPACES = {"app": {"metadata": {"name": "app", "labels": {"team": "web"}}}}


@pytest.mark.parametrize(
    ("listener", "route_namespace", "parent", "hostnames", "reason"),
    [
        (http(), "infra", {}, [], "Accepted"),
        (http(), "app", {}, [], "NotAllowedByListeners"),
        (http(allowedRoutes={"namespaces": {"from": "All"}}), "app", {}, [], "Accepted"),
        (
            http(allowedRoutes={"namespaces": {"from": "Selector", "selector": {"matchLabels": {"team": "web"}}}}),
            "app",
            {},
            [],
            "Accepted",
        ),
        (
            http(allowedRoutes={"namespaces": {"from": "Selector", "selector": {"matchLabels": {"team": "db"}}}}),
            "app",
            {},
            [],
            "NotAllowedByListeners",
        ),
        (http(), "infra", {"sectionName": "nope"}, [], "NoMatchingParent"),
        (http(), "infra", {"port": 81}, [], "NoMatchingParent"),
        (http(), "infra", {"sectionName": "http", "port": 80}, [], "Accepted"),
        (http(hostname="a.test"), "infra", {}, ["b.test"], "NoMatchingListenerHostname"),
        (http(port=8080), "infra", {}, [], "NotAllowedByListeners"),
        (http(allowedRoutes={"kinds": [{"kind": "GRPCRoute"}]}), "infra", {}, [], "NotAllowedByListeners"),
    ],
    ids=[
        "same-namespace",
        "other-namespace-default-same",
        "from-all",
        "selector-matches",
        "selector-does-not-match",
        "no-such-section",
        "no-such-port",
        "section-and-port",
        "hostnames-disjoint",
        "listener-not-accepted",
        "kind-not-taken",
    ],
)
def test_route_attachment(
    listener: dict[str, Any], route_namespace: str, parent: dict[str, Any], hostnames: list[str], reason: str
) -> None:
    listeners = {"infra/gw": evaluate_listeners(gateway(listener), {})}
    ref = {"name": "gw", "namespace": "infra", **parent}

    [outcome] = attach(route(route_namespace, ref, hostnames=hostnames), listeners, NAMESPACES)

    assert (outcome.accepted.status, outcome.accepted.reason) == (reason == "Accepted", reason)
    assert outcome.parent_ref == ref
    assert bool(outcome.listeners) == (reason == "Accepted")


def test_parent_refs_to_gateways_not_ours_or_missing_get_no_outcome() -> None:
    listeners = {"infra/gw": evaluate_listeners(gateway(http()), {})}
    refs = [{"name": "missing", "namespace": "infra"}, {"name": "gw", "namespace": "infra", "kind": "Service"}]

    assert attach(route("infra", *refs), listeners, NAMESPACES) == []


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        ({"name": "web", "port": 80}, "ResolvedRefs"),
        ({"name": "absent", "port": 80}, "BackendNotFound"),
        ({"name": "web", "port": 81}, "BackendNotFound"),
        ({"name": "web", "port": 80, "kind": "Pod"}, "InvalidKind"),
        ({"name": "web", "port": 80, "namespace": "other"}, "RefNotPermitted"),
    ],
    ids=["resolved", "no-service", "no-port", "not-a-service", "other-namespace"],
)
def test_backend_refs_resolve(ref: dict[str, Any], reason: str) -> None:
    services = {"app/web": {"spec": {"ports": [{"port": 80}]}}, "other/web": {"spec": {"ports": [{"port": 80}]}}}
    obj = {"metadata": {"name": "r", "namespace": "app"}, "spec": {"rules": [{"backendRefs": [ref]}]}}

    condition = resolve_backends(obj, services)

    assert (condition.status, condition.reason) == (reason == "ResolvedRefs", reason)


@pytest.mark.parametrize(
    ("selector", "matched"),
    [
        ({}, True),
        ({"matchLabels": {"team": "web"}}, True),
        ({"matchExpressions": [{"key": "team", "operator": "In", "values": ["web", "db"]}]}, True),
        ({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["web"]}]}, False),
        ({"matchExpressions": [{"key": "env", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "env", "operator": "DoesNotExist"}]}, True),
    ],
    ids=["empty", "labels", "in", "not-in", "exists", "does-not-exist"],
)
def test_namespace_selectors(selector: dict[str, Any], matched: bool) -> None:
    assert selector_matches(selector, {"team": "web"}) is matched
