"""Annotated Ingresses: observe their annotations and ``spec.tls``; write the Certificates they ask for.

Level-based (kopf ``on.event``), so nothing of certwright's is written onto users' Ingresses: no
diff-base copy, no progress annotation, no finalizer. What is done with the Certificates (owned by
their Ingress, made again when deleted, adopted from an earlier Ingress of the same name) is the
certificate-shim's, shared with Gateways (``kube.shim``).
"""

from __future__ import annotations

from typing import Any

import kopf

from ..domain.ingresses import INGRESS_GROUP, plan_for
from ..kube.context import Context
from ..kube.shim import CertificateShim


def shim(context: Context) -> CertificateShim:
    return CertificateShim(
        context,
        kind="Ingress",
        api_version=f"{INGRESS_GROUP}/v1",
        plan=lambda ingress: plan_for(ingress, context.settings.default_issuer),
        asks="spec.tls entry",
        sources=context.ingresses,
        said=context.ingress_events,
        waiting=context.ingress_waiting,
    )


def setup(registry: kopf.OperatorRegistry) -> None:
    @kopf.on.startup(registry=registry)
    async def listen_for_deleted_certificates(memo: kopf.Memo, **_: Any) -> None:
        shim(memo["context"]).listen()

    @kopf.on.event(INGRESS_GROUP, "v1", "ingresses", registry=registry)
    async def observed(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        shim(memo["context"]).observed(event["type"], body)
