"""A Gateway's Certificates through the certificate-shim: made owned by the Gateway, one per Secret, and
deleted when no listener asks for them; a problem is one BadConfig Event per generation."""

from __future__ import annotations

import asyncio
import datetime
from typing import Any

from certwright.controllers.gateways import shim
from certwright.kube.context import Context, Settings

GATEWAY = {
    "metadata": {
        "name": "edge",
        "namespace": "ns",
        "uid": "uid-1",
        "generation": 1,
        "annotations": {"cert-manager.io/cluster-issuer": "le"},
    },
    "spec": {
        "listeners": [
            {"name": "a", "protocol": "HTTPS", "hostname": "a.test", "tls": {"certificateRefs": [{"name": "shop"}]}},
            {"name": "b", "protocol": "HTTPS", "hostname": "b.test", "tls": {"certificateRefs": [{"name": "shop"}]}},
            {"name": "c", "protocol": "TLS", "hostname": "c.test", "tls": {"certificateRefs": [{"name": "api"}]}},
        ]
    },
}


class Kube:
    """Records what the shim writes."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self.patched: list[tuple[str, dict[str, Any]]] = []
        self.events: list[tuple[str, str, str]] = []

    async def create_certificate(self, namespace: str, body: dict[str, Any]) -> bool:
        self.created.append(body)
        return True

    async def patch_certificate_spec(self, namespace: str, name: str, spec: dict[str, Any]) -> None:
        self.patched.append((f"{namespace}/{name}", spec))

    async def delete_certificate(self, namespace: str, name: str) -> bool:
        self.deleted.append(f"{namespace}/{name}")
        return True

    async def event(self, involved: dict[str, Any], kind: str, reason: str, message: str, now: Any) -> None:
        self.events.append((involved["kind"], reason, message))


def _context() -> tuple[Context, Kube]:
    kube = Kube()
    settings = Settings(solver_image="img", selfcheck_nameservers=(), cluster_resource_namespace="certwright")
    context = Context(kube=kube, accounts=None, pods=None, settings=settings)  # type: ignore[arg-type]
    context.clock = lambda: datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    return context, kube


def _keep(context: Context, gateway: dict[str, Any]) -> None:
    """As ``observed`` keeps it (without starting a reconcile: the test runs it)."""
    context.gateways["ns/edge"] = {**gateway, "kind": "Gateway", "apiVersion": "gateway.networking.k8s.io/v1"}


def test_a_gateway_gets_one_certificate_per_secret_owned_by_it() -> None:
    context, kube = _context()
    _keep(context, GATEWAY)
    asyncio.run(shim(context).reconcile("ns/edge"))

    assert [(c["metadata"]["name"], c["spec"]["dnsNames"]) for c in kube.created] == [
        ("shop", ["a.test", "b.test"]),
        ("api", ["c.test"]),
    ]
    owner = kube.created[0]["metadata"]["ownerReferences"][0]
    expected = ("gateway.networking.k8s.io/v1", "Gateway", "edge", "uid-1", True)
    assert (owner["apiVersion"], owner["kind"], owner["name"], owner["uid"], owner["controller"]) == expected
    assert [reason for _, reason, _ in kube.events] == ["CreateCertificate", "CreateCertificate"]


def test_owned_certificates_no_listener_asks_for_are_deleted() -> None:
    context, kube = _context()
    gateway = {**GATEWAY, "spec": {"listeners": GATEWAY["spec"]["listeners"][:1]}}  # type: ignore[index]
    _keep(context, gateway)
    reference = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "name": "edge", "uid": "uid-1"}
    for name in ("shop", "api"):
        body = {"metadata": {"name": name, "namespace": "ns", "ownerReferences": [reference | {"controller": True}]}}
        context.remember_certificate(f"ns/{name}", body | {"spec": {"secretName": name}})
    asyncio.run(shim(context).reconcile("ns/edge"))

    assert kube.deleted == ["ns/api"]
    assert [(key, spec["dnsNames"]) for key, spec in kube.patched] == [("ns/shop", ["a.test"])], "the one left follows"
    assert ("Gateway", "DeleteCertificate", "deleted Certificate api: no listener or annotation asks for it") in (
        kube.events
    )


def test_a_problem_is_told_once_per_generation_and_nothing_is_written() -> None:
    context, kube = _context()
    bad = {**GATEWAY, "spec": {"listeners": [{"name": "x", "protocol": "HTTPS", "tls": {"certificateRefs": []}}]}}
    _keep(context, bad)
    for _ in range(2):
        asyncio.run(shim(context).reconcile("ns/edge"))

    assert kube.created == []
    assert kube.deleted == []
    assert [(kind, reason) for kind, reason, _ in kube.events] == [("Gateway", "BadConfig")]


def test_a_gateway_being_deleted_is_forgotten() -> None:
    context, _ = _context()
    context.gateways["ns/edge"] = GATEWAY
    deleting = {**GATEWAY, "metadata": {**GATEWAY["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}}  # type: ignore[dict-item]
    shim(context).observed("MODIFIED", deleting)
    assert "ns/edge" not in context.gateways
