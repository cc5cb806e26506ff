"""Annotated Ingresses: observe their annotations and ``spec.tls``; write the Certificates they ask for.

Level-based (kopf ``on.event``), so nothing of certwright's is written onto users' Ingresses: no
diff-base copy, no progress annotation, no finalizer. Certificates are owned by their Ingress
(controller owner reference), so deleting the Ingress deletes them; a Certificate the Ingress does
not own is never touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from ..domain import api
from ..domain.ingresses import plan_for
from ..kube.builders import controller_uid, owner_reference
from ..kube.context import Context

COMPARED = ("secretName", "dnsNames", "renewBefore", "privateKey")


def setup(registry: kopf.OperatorRegistry) -> None:
    @kopf.on.event("networking.k8s.io", "v1", "ingresses", registry=registry)
    async def observed(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        context: Context = memo["context"]
        key = f"{body.metadata.namespace}/{body.metadata.name}"
        if event["type"] == "DELETED" or body.metadata.get("deletionTimestamp"):
            context.ingresses.pop(key, None)  # its Certificates go with it (garbage collection)
            return
        context.ingresses[key] = {**dict(body), "kind": "Ingress", "apiVersion": "networking.k8s.io/v1"}
        context.runner.trigger(f"Ingress/{key}", lambda: reconcile(context, key))


async def reconcile(context: Context, key: str) -> None:
    ingress = context.ingresses.get(key)
    if ingress is None:
        return
    plan = plan_for(ingress, context.settings.default_issuer)
    if plan.problems:
        await _once(context, ingress, "Warning", "BadConfig", "; ".join(plan.problems))
        return
    namespace = ingress["metadata"]["namespace"]
    uid = ingress["metadata"]["uid"]
    owned = {key.split("/", 1)[1] for key in context.certificates_by_owner.get(uid, set())}
    for name, spec in plan.certificates.items():
        current = context.certificates.get(f"{namespace}/{name}")
        if current is None:
            await _create(context, ingress, name, spec)
        elif controller_uid(current) != uid:
            await _once(
                context,
                ingress,
                "Warning",
                "CertificateNotOwned",
                f"Certificate {name} exists and is not owned by this Ingress; certwright leaves it alone",
            )
        else:
            await _update(context, ingress, current, spec)
    for name in set(owned) - set(plan.certificates):
        await context.kube.delete_certificate(namespace, name)
        await _event(
            context,
            ingress,
            "Normal",
            "DeleteCertificate",
            f"deleted Certificate {name}: no spec.tls entry or annotation asks for it",
        )


async def _create(context: Context, ingress: dict[str, Any], name: str, spec: dict[str, Any]) -> None:
    meta = ingress["metadata"]
    body = {
        "apiVersion": api.API_VERSION,
        "kind": "Certificate",
        "metadata": {
            "name": name,
            "namespace": meta["namespace"],
            "labels": {
                k: v for k, v in (meta.get("labels") or {}).items() if not k.startswith("applyset.kubernetes.io/")
            },
            "ownerReferences": [owner_reference(ingress)],
        },
        "spec": spec,
    }
    created = await context.kube.create_certificate(meta["namespace"], body)
    if created:
        await _event(
            context,
            ingress,
            "Normal",
            "CreateCertificate",
            f"created Certificate {name} for {', '.join(spec['dnsNames'])}",
        )


async def _update(context: Context, ingress: dict[str, Any], current: Mapping[str, Any], spec: dict[str, Any]) -> None:
    have = current.get("spec") or {}
    patch: dict[str, Any] = {key: spec.get(key) for key in COMPARED if _differs(have.get(key), spec.get(key))}
    ref = have.get("issuerRef") or {}
    if (ref.get("name"), ref.get("kind", "Issuer")) != (spec["issuerRef"]["name"], spec["issuerRef"]["kind"]):
        patch["issuerRef"] = spec["issuerRef"]
    if not patch:
        return
    name = current["metadata"]["name"]
    await context.kube.patch_certificate_spec(current["metadata"]["namespace"], name, patch)
    await _event(
        context, ingress, "Normal", "UpdateCertificate", f"updated Certificate {name}: {', '.join(sorted(patch))}"
    )


def _differs(have: Any, want: Any) -> bool:
    if isinstance(want, Mapping) and isinstance(have, Mapping):
        return any(have.get(k) != v for k, v in want.items())  # the API server adds defaults: compare ours
    return bool(have != want)


async def _once(context: Context, ingress: dict[str, Any], kind: str, reason: str, message: str) -> None:
    """A problem is said once per Ingress generation, not at every event."""
    key = (ingress["metadata"]["uid"], ingress["metadata"].get("generation"), reason, message)
    if key in context.ingress_events:
        return
    context.ingress_events.add(key)
    await _event(context, ingress, kind, reason, message)


async def _event(context: Context, ingress: dict[str, Any], kind: str, reason: str, message: str) -> None:
    await context.kube.event(ingress, kind, reason, message, context.clock())
