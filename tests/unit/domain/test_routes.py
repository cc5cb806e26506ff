"""A Gateway's answer to the solver's HTTPRoute, read from the route's status."""

from __future__ import annotations

from typing import Any

import pytest

from certwright.domain.conditions import Reason
from certwright.domain.routes import Verdict, missing_gateway, same_parent, verdict
from certwright.domain.specs import ParentRef

EDGE = ParentRef(name="edge", namespace="infra", section_name="http")


def parent(**conditions: tuple[str, str]) -> dict[str, Any]:
    return {
        "parentRef": {"name": "edge", "namespace": "infra", "sectionName": "http"},
        "controllerName": "example.com/gateway",
        "conditions": [
            {"type": kind, "status": status, "reason": reason, "message": f"{reason} said so"}
            for kind, (status, reason) in conditions.items()
        ],
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (None, None),
        (parent(), None),
        (parent(Accepted=("True", "Accepted"), ResolvedRefs=("True", "ResolvedRefs")), Verdict(True)),
        (
            parent(Accepted=("False", "NotAllowedByListeners"), ResolvedRefs=("True", "ResolvedRefs")),
            Verdict(
                False,
                Reason.HTTP_ROUTE_NOT_ACCEPTED,
                "Gateway infra/edge listener http did not accept HTTPRoute r "
                "(NotAllowedByListeners: NotAllowedByListeners said so)",
            ),
        ),
        (
            parent(Accepted=("True", "Accepted"), ResolvedRefs=("False", "BackendNotFound")),
            Verdict(
                False,
                Reason.HTTP_ROUTE_REFS_UNRESOLVED,
                "Gateway infra/edge listener http cannot route HTTPRoute r to the solver's Service "
                "(BackendNotFound: BackendNotFound said so)",
            ),
        ),
    ],
    ids=["no-entry-yet", "no-conditions-yet", "accepted", "not-allowed", "backend-not-found"],
)
def test_verdict(status: dict[str, Any] | None, expected: Verdict | None) -> None:
    assert verdict(status, EDGE, "infra", "r") == expected


def test_a_missing_gateway_is_named() -> None:
    found = missing_gateway(ParentRef(name="nope"), "shop")
    assert found.reason == Reason.GATEWAY_NOT_FOUND
    assert found.message == "Gateway shop/nope, named in the solver's gatewayHTTPRoute.parentRefs, does not exist"


@pytest.mark.parametrize(
    ("status_ref", "same"),
    [
        ({"name": "edge", "namespace": "infra", "sectionName": "http"}, True),
        ({"name": "edge", "namespace": "infra", "sectionName": "http", "kind": "Gateway"}, True),
        ({"name": "edge", "namespace": "infra"}, False),
        ({"name": "edge", "namespace": "shop", "sectionName": "http"}, False),
        ({"name": "other", "namespace": "infra", "sectionName": "http"}, False),
    ],
    ids=["same", "kind-defaulted", "other-section", "other-namespace", "other-name"],
)
def test_same_parent(status_ref: dict[str, Any], same: bool) -> None:
    assert same_parent(status_ref, EDGE, "shop") is same


def test_a_parent_without_namespace_is_in_the_routes_namespace() -> None:
    assert same_parent({"name": "edge"}, ParentRef(name="edge"), "shop")
    assert same_parent({"name": "edge", "namespace": "shop"}, ParentRef(name="edge"), "shop")
