"""HTTPRoute rules are chosen with the specification's precedence, and a miss names its hop."""

from __future__ import annotations

from typing import Any

import pytest

from certwright_env.standin.httproutes import Attachment, Request, host_rank, select_route
from certwright_env.standin.routing import Backend, Miss

SERVICES = {f"app/{name}": {"spec": {"ports": [{"port": 80}]}} for name in ("a", "b", "c", "d", "e")}


def rule(service: str, *matches: dict[str, Any]) -> dict[str, Any]:
    return {"matches": list(matches), "backendRefs": [{"name": service, "port": 80}]}


def path(kind: str, value: str, **extra: Any) -> dict[str, Any]:
    return {"path": {"type": kind, "value": value}, **extra}


def route(name: str, *rules: dict[str, Any], created: str = "2026-01-01T00:00:00Z") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "app", "creationTimestamp": created},
        "spec": {"rules": list(rules)},
    }


def attached(obj: dict[str, Any], *hostnames: str) -> Attachment:
    return Attachment(obj, hostnames)


ROUTES = [
    attached(
        route(
            "site",
            rule("a", path("PathPrefix", "/")),
            rule("b", path("PathPrefix", "/api")),
            rule("c", path("Exact", "/api/v1")),
            rule("d", path("PathPrefix", "/api", method="POST")),
            rule("e", path("PathPrefix", "/api", headers=[{"name": "X-Canary", "value": "yes"}])),
        ),
        "shop.test",
    ),
    attached(route("wild", rule("b", path("PathPrefix", "/"))), "*.shop.test"),
    attached(route("catch-all", rule("c", path("PathPrefix", "/")))),
    attached(route("old", rule("d", path("Exact", "/same")), created="2025-01-01T00:00:00Z"), "dup.test"),
    attached(route("new", rule("e", path("Exact", "/same"))), "dup.test"),
    attached(route("sole", rule("a", path("Exact", "/only"))), "sole.test"),
    attached(route("broken", rule("nothing", path("PathPrefix", "/"))), "broken.test"),
]


@pytest.mark.parametrize(
    ("host", "request_path", "method", "headers", "service"),
    [
        ("shop.test", "/", "GET", {}, "a"),
        ("shop.test:80", "/api/x?q=1", "GET", {}, "b"),
        ("shop.test", "/api/v1", "GET", {}, "c"),
        ("shop.test", "/api/v1/", "GET", {}, "b"),
        ("shop.test", "/apiv1", "GET", {}, "a"),
        ("shop.test", "/api/x", "POST", {}, "d"),
        ("shop.test", "/api/x", "GET", {"x-canary": "yes"}, "e"),
        ("x.shop.test", "/api", "GET", {}, "b"),
        ("x.y.shop.test", "/", "GET", {}, "b"),
        ("elsewhere.test", "/", "GET", {}, "c"),
        ("dup.test", "/same", "GET", {}, "d"),
    ],
    ids=[
        "root-prefix",
        "longer-prefix-and-port-in-host",
        "exact-over-prefix",
        "exact-is-exact",
        "prefix-matches-whole-elements",
        "method-match-wins-a-tie",
        "header-match-wins-a-tie",
        "wildcard-host",
        "wildcard-spans-labels",
        "route-for-every-host",
        "oldest-route-wins",
    ],
)
def test_the_rule_with_precedence_takes_the_request(
    host: str, request_path: str, method: str, headers: dict[str, str], service: str
) -> None:
    chosen = select_route(ROUTES, Request(host, request_path, method, headers), SERVICES)

    assert isinstance(chosen, Backend)
    assert (chosen.service, chosen.port, chosen.kind) == (service, 80, "HTTPRoute")


def test_an_exact_hostname_outranks_a_wildcard_and_a_wildcard_outranks_every_host() -> None:
    assert host_rank(("shop.test",), "shop.test") > host_rank(("*.shop.test",), "x.shop.test")  # type: ignore[operator]
    assert host_rank(("*.shop.test",), "x.shop.test") > host_rank((), "x.shop.test")  # type: ignore[operator]
    assert host_rank(("shop.test",), "other.test") is None


@pytest.mark.parametrize(
    ("host", "request_path", "status", "hop"),
    [
        ("sole.test", "/other", 404, "gateway route: no rule of HTTPRoute app/sole matches GET /other on sole.test"),
        ("broken.test", "/", 500, "backend service: Service app/nothing does not exist"),
    ],
    ids=["no-rule-matches", "backend-missing"],
)
def test_a_miss_names_its_hop(host: str, request_path: str, status: int, hop: str) -> None:
    miss = select_route(ROUTES, Request(host, request_path), SERVICES)

    assert isinstance(miss, Miss)
    assert miss.status == status
    assert miss.hop.startswith(hop)


def test_routes_for_every_host_claim_nothing_when_only_named_hosts_may() -> None:
    assert select_route(ROUTES, Request("elsewhere.test", "/"), SERVICES, named_only=True) is None
    assert select_route(ROUTES[2:3], Request("shop.test", "/"), SERVICES, named_only=True) is None
