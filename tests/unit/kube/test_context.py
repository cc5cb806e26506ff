"""The in-memory Certificates: a status this process wrote is kept; an event queued before it is not."""

from __future__ import annotations

from typing import Any

import pytest

from certwright.kube.context import Context, Settings


class FakeKube:
    """Answers a status patch as the API server does: the object, one resourceVersion later."""

    def __init__(self) -> None:
        self.version = 10

    async def patch_status(self, plural: str, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        return {
            "metadata": {
                "name": name,
                "namespace": namespace,
                "resourceVersion": str(self.version),
                "managedFields": [],
            },
            "spec": {"secretName": "web-tls"},
            "status": status,
        }


def body(version: str, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "ns", "resourceVersion": version},
        "spec": {"secretName": "web-tls"},
        "status": status,
    }


def context() -> Context:
    settings = Settings(solver_image="img", selfcheck_nameservers=(), cluster_resource_namespace="certwright")
    return Context(kube=FakeKube(), accounts=None, pods=None, settings=settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("version", "older"),
    [("9", True), ("11", False), ("12", False), ("", False)],
    ids=["older", "same", "newer", "none"],
)
def test_an_event_older_than_our_own_status_write_is_recognised(version: str, older: bool) -> None:
    import asyncio

    kept = context()
    kept.remember_certificate("ns/web", body("10", order={"url": "https://ca/order/1"}))

    asyncio.run(kept.patch_certificate_status("ns", "web", {"order": None}))

    assert kept.certificates["ns/web"]["status"] == {"order": None}
    assert "managedFields" not in kept.certificates["ns/web"]["metadata"]
    assert kept.is_older("ns/web", body(version)) is older
