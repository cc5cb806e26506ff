"""The stand-in routes as ingress-nginx does, and names the hop that failed."""

from __future__ import annotations

from typing import Any

import pytest

from certwright_env.standin.routing import Backend, Endpoint, Miss, rejection, select_backend, select_endpoint


def ingress(name: str, rules: list[dict[str, Any]], ingress_class: str | None = "nginx") -> dict[str, Any]:
    spec: dict[str, Any] = {"rules": rules}
    if ingress_class:
        spec["ingressClassName"] = ingress_class
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": spec}


def rule(host: str | None, *paths: tuple[str, str, str]) -> dict[str, Any]:
    http = {
        "paths": [
            {"path": path, "pathType": kind, "backend": {"service": {"name": service, "port": {"number": 80}}}}
            for path, kind, service in paths
        ]
    }
    return {"host": host, "http": http} if host else {"http": http}


ROUTES = [
    ingress(
        "exact-host", [rule("a.test", ("/", "Prefix", "root"), ("/api", "Prefix", "api"), ("/api/v2", "Exact", "v2"))]
    ),
    ingress("wildcard", [rule("*.test", ("/", "Prefix", "wild"))]),
    ingress("catch-all", [rule(None, ("/", "Prefix", "default"))]),
    ingress("solver", [rule("b.test", ("/.well-known/acme-challenge/tok", "ImplementationSpecific", "solver"))]),
    ingress("other-class", [rule("c.test", ("/", "Prefix", "traefik-svc"))], ingress_class="traefik"),
    ingress("no-class", [rule("d.test", ("/", "Prefix", "classless"))], ingress_class=None),
    ingress("strict", [rule("e.test", ("/.well-known/acme-challenge/tok", "Exact", "solver"))]),
]


@pytest.mark.parametrize(
    ("host", "path", "service"),
    [
        ("a.test", "/", "root"),
        ("a.test", "/api", "api"),
        ("a.test", "/api/", "api"),
        ("a.test", "/api/users", "api"),
        ("a.test", "/apiary", "root"),  # Prefix matches whole path elements only
        ("a.test", "/api/v2", "v2"),  # Exact beats a longer-or-equal Prefix
        ("A.TEST:80", "/api", "api"),  # host is case-insensitive, port ignored
        ("x.test", "/", "wild"),  # a wildcard matches one label
        ("deep.x.test", "/", "default"),  # …and only one
        ("b.test", "/.well-known/acme-challenge/tok", "solver"),
        ("b.test", "/.well-known/acme-challenge/token-longer", "solver"),  # ImplementationSpecific = string prefix
    ],
)
def test_requests_reach_the_backend_ingress_nginx_would_pick(host: str, path: str, service: str) -> None:
    backend = select_backend(ROUTES, "nginx", host, path)
    assert isinstance(backend, Backend), backend
    assert backend.service == service


@pytest.mark.parametrize(
    ("host", "path", "hop"),
    [
        ("b.test", "/other", "host b.test has no path matching /other; its paths: /.well-known/acme-challenge/tok"),
        ("c.test", "/", "Ingress ns/other-class has a rule for c.test but class 'traefik', not 'nginx'"),
        ("d.test", "/", "Ingress ns/no-class has a rule for d.test but class None"),
        (
            "e.test",
            "/",
            "Ingress ns/strict was rejected: path /.well-known/acme-challenge/tok cannot be used with pathType Exact",
        ),
    ],
    ids=["path", "class", "no-class", "strict-path"],
)
def test_a_request_without_a_route_gets_404_naming_the_ingress_hop(host: str, path: str, hop: str) -> None:
    only_specific = [r for r in ROUTES if r["metadata"]["name"] not in ("wildcard", "catch-all")]
    miss = select_backend(only_specific, "nginx", host, path)
    assert isinstance(miss, Miss)
    assert miss.status == 404
    assert hop in miss.hop


def test_strict_path_validation_accepts_plain_paths_and_implementation_specific() -> None:
    assert rejection(ingress("ok", [rule("a", ("/api/v1_x-y", "Prefix", "s"))])) is None
    assert rejection(ingress("ok", [rule("a", ("/.well-known/x", "ImplementationSpecific", "s"))])) is None
    assert rejection(ingress("bad", [rule("a", ("/a.b", "Prefix", "s"))])) is not None


SERVICE = {
    "metadata": {"name": "svc", "namespace": "ns"},
    "spec": {"selector": {"app": "x"}, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]},
}


def pod(name: str, ready: bool, labels: dict[str, str] | None = None, ip: str = "127.1.1.1") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "labels": labels or {"app": "x"}},
        "spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8089}]}]},
        "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


@pytest.mark.parametrize(
    ("backend", "pods", "expected"),
    [
        (Backend("ns/i", "ns", "svc", 80), [pod("p", True)], Endpoint("ns/p", "127.1.1.1", 8089)),
        (Backend("ns/i", "ns", "svc", "web"), [pod("p", True)], Endpoint("ns/p", "127.1.1.1", 8089)),
        (
            Backend("ns/i", "ns", "nope", 80),
            [pod("p", True)],
            Miss(503, "service: Service ns/nope (from Ingress ns/i) does not exist"),
        ),
        (
            Backend("ns/i", "ns", "svc", 81),
            [pod("p", True)],
            Miss(503, "service: Service ns/svc has no port 81 (it has: web)"),
        ),
        (
            Backend("ns/i", "ns", "svc", 80),
            [pod("p", True, {"app": "y"})],
            Miss(503, "endpoints: no Pod in ns matches the selector {'app': 'x'} of Service ns/svc"),
        ),
        (
            Backend("ns/i", "ns", "svc", 80),
            [pod("p", False)],
            Miss(503, "endpoints: Pods ns/p match Service ns/svc but none is Ready"),
        ),
    ],
    ids=["by-number", "by-name", "no-service", "no-port", "selector", "not-ready"],
)
def test_a_backend_resolves_through_its_service_to_a_ready_pod(
    backend: Backend, pods: list[dict[str, Any]], expected: Endpoint | Miss
) -> None:
    assert select_endpoint(backend, {"ns/svc": SERVICE}, pods) == expected
