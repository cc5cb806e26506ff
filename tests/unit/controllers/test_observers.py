"""The handlers of the operator's own watches: what they keep, and what they wake."""

from __future__ import annotations

import asyncio
from typing import Any

from certwright.controllers import certificates, dnsrecords, issuers
from certwright.kube.context import Context, Settings


def context() -> Context:
    settings = Settings(solver_image="img", selfcheck_nameservers=(), cluster_resource_namespace="certwright")
    return Context(kube=None, accounts=None, pods=None, settings=settings)  # type: ignore[arg-type]


def challenge(name: str, certificate: str, **meta: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", **meta}, "spec": {"certificateName": certificate}}


def test_challenges_are_indexed_by_their_certificate_until_they_go() -> None:
    kept = context()
    observed = dnsrecords.observe(kept)

    observed("ADDED", challenge("web-1", "web"))
    observed("ADDED", challenge("web-2", "web"))
    observed("ADDED", challenge("api-1", "api"))
    observed("DELETED", challenge("web-1", "web"))

    assert kept.challenge_index == {"ns/web": {"web-2"}, "ns/api": {"api-1"}}
    observed("DELETED", challenge("api-1", "api"))
    assert "ns/api" not in kept.challenge_index


def test_a_certificate_event_older_than_what_is_kept_changes_nothing() -> None:
    kept = context()
    woken: list[str] = []
    kept.runner.trigger = lambda key, work: woken.append(key)  # type: ignore[method-assign]
    observed = certificates.observe(kept)
    body = {"metadata": {"name": "web", "namespace": "ns", "resourceVersion": "7"}, "spec": {"secretName": "web-tls"}}

    observed("ADDED", body)
    observed("MODIFIED", {**body, "metadata": {**body["metadata"], "resourceVersion": "5"}})

    assert kept.certificates["ns/web"]["metadata"]["resourceVersion"] == "7"
    assert kept.certificates["ns/web"]["kind"] == "Certificate"
    assert woken == ["Certificate/ns/web"]
    observed("DELETED", body)
    assert "ns/web" not in kept.certificates


def test_an_issuer_is_kept_with_its_kind_and_reconciled() -> None:
    kept = context()
    started: list[str] = []
    kept.runner.trigger = lambda key, work: started.append(key)  # type: ignore[method-assign]

    issuers.observe(kept, "ClusterIssuer")("ADDED", {"metadata": {"name": "le"}, "spec": {}})

    assert kept.issuers["ClusterIssuer/le"]["kind"] == "ClusterIssuer"
    assert started == ["ClusterIssuer/le"]


def test_judging_waits_until_issuers_and_challenges_are_seen() -> None:
    kept = context()

    async def main() -> None:
        kept.catalog_synced.clear()
        task = asyncio.create_task(certificates.reconcile(kept, "ns/absent"))
        await asyncio.sleep(0.05)
        assert not task.done(), "no Certificate is judged before the catalog is complete"
        kept.catalog_synced.set()
        await asyncio.wait_for(task, 1)

    asyncio.run(main())
