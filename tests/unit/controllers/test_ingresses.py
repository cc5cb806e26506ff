"""An Ingress that could not create or adopt its Certificate looks again once that Certificate is seen
(at start-up the Ingresses may be listed before the Certificates)."""

from __future__ import annotations

import asyncio
from typing import Any

from certwright.controllers.ingresses import shim
from certwright.kube.context import Context, Settings

INGRESS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {
        "name": "shop",
        "namespace": "ns",
        "uid": "uid-1",
        "annotations": {"certwright.dev/cluster-issuer": "le"},
    },
    "spec": {"tls": [{"hosts": ["shop.example"], "secretName": "shop-tls"}]},
}


class ExistingCertificates:
    """The API server's answer when the Certificate exists already: create says no."""

    def __init__(self) -> None:
        self.creates = 0

    async def create_certificate(self, namespace: str, body: dict[str, Any]) -> bool:
        self.creates += 1
        return False


def test_an_ingress_whose_certificate_exists_unseen_looks_again_when_it_is_seen() -> None:
    async def scenario() -> tuple[dict[str, str], bool, int]:
        kube = ExistingCertificates()
        settings = Settings(solver_image="img", selfcheck_nameservers=(), cluster_resource_namespace="certwright")
        context = Context(kube=kube, accounts=None, pods=None, settings=settings)  # type: ignore[arg-type]
        context.ingresses["ns/shop"] = INGRESS
        await shim(context).reconcile("ns/shop")
        waiting = dict(context.ingress_waiting)
        certificate = {"metadata": {"name": "shop-tls", "namespace": "ns", "resourceVersion": "7"}, "spec": {}}
        context.remember_certificate("ns/shop-tls", certificate)
        shim(context).certificate_seen("ns/shop-tls")
        triggered = context.runner.busy("Ingress/ns/shop")
        await asyncio.sleep(0)
        return waiting, triggered, kube.creates

    waiting, triggered, creates = asyncio.run(scenario())

    assert waiting == {"ns/shop-tls": "ns/shop"}
    assert triggered, "the Ingress is reconciled again once its Certificate is observed"
    assert creates == 1
