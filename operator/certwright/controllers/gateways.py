"""Annotated Gateways (``gateway.networking.k8s.io/v1``): observe their annotations and TLS listeners;
write the Certificates they ask for, one per Secret the listeners name (issue 14).

Level-based (kopf ``on.event``), so nothing of certwright's is written onto users' Gateways: no
diff-base copy, no progress annotation, no finalizer. What is done with the Certificates (owned by
their Gateway, made again when deleted, adopted from an earlier Gateway of the same name) is the
certificate-shim's, shared with Ingresses (``kube.shim``).

Registered only when the cluster serves the Gateway API (``__main__`` asks discovery at start-up):
the CRDs are optional, and kopf must not watch a resource that does not exist.
"""

from __future__ import annotations

from typing import Any

import kopf

from ..domain.gateways import GATEWAY_GROUP, plan_for
from ..kube.context import Context
from ..kube.shim import CertificateShim


def shim(context: Context) -> CertificateShim:
    return CertificateShim(
        context,
        kind="Gateway",
        api_version=f"{GATEWAY_GROUP}/v1",
        plan=plan_for,
        asks="listener",
        sources=context.gateways,
        said=context.gateway_events,
        waiting=context.gateway_waiting,
    )


def setup(registry: kopf.OperatorRegistry) -> None:
    @kopf.on.startup(registry=registry)
    async def listen_for_deleted_certificates(memo: kopf.Memo, **_: Any) -> None:
        shim(memo["context"]).listen()

    @kopf.on.event(GATEWAY_GROUP, "v1", "gateways", registry=registry)
    async def observed(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        shim(memo["context"]).observed(event["type"], body)
