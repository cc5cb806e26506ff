"""Annotated Ingresses: observe their annotations and ``spec.tls``; write the Certificates they ask for.

Level-based (kopf ``on.event``), so nothing of certwright's is written onto users' Ingresses: no
diff-base copy, no progress annotation, no finalizer. Certificates are owned by their Ingress
(controller owner reference), so deleting the Ingress deletes them; a Certificate the Ingress does
not own is never touched.

Reconciled from both sides (issue 10): a deleted Certificate wakes the Ingress that should own it,
which makes it again, and a Certificate left by an earlier Ingress of the same name (deleted and
created again) is adopted at once rather than left to the garbage collector. Either way the Secret is
not owned by the Certificate, so the new one finds it and needs no new order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from ..domain import api
from ..domain.ingresses import Owner, controlling_ingress, owner_of, plan_for
from ..kube.builders import owner_reference
from ..kube.client import Conflict, NotFound
from ..kube.context import Context

COMPARED = ("secretName", "dnsNames", "renewBefore", "privateKey")
# What the API server fills in when the Ingress asks for nothing (crds/certificates.yaml), so that an
# unset annotation is not a difference at every Ingress event.
CRD_DEFAULTS: dict[str, Any] = {"privateKey": {"algorithm": "ECDSA", "rotationPolicy": "Always"}}


def setup(registry: kopf.OperatorRegistry) -> None:
    @kopf.on.startup(registry=registry)
    async def listen_for_deleted_certificates(memo: kopf.Memo, **_: Any) -> None:
        context: Context = memo["context"]
        context.certificate_gone_listeners.append(lambda body: _certificate_gone(context, body))
        context.certificate_seen_listeners.append(lambda key: _certificate_seen(context, key))

    @kopf.on.event("networking.k8s.io", "v1", "ingresses", registry=registry)
    async def observed(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        context: Context = memo["context"]
        key = f"{body.metadata.namespace}/{body.metadata.name}"
        if event["type"] == "DELETED" or body.metadata.get("deletionTimestamp"):
            context.ingresses.pop(key, None)  # its Certificates go with it (garbage collection)
            return
        context.ingresses[key] = {**dict(body), "kind": "Ingress", "apiVersion": "networking.k8s.io/v1"}
        _trigger(context, key)


def _trigger(context: Context, key: str) -> None:
    context.runner.trigger(f"Ingress/{key}", lambda: reconcile(context, key))


def _certificate_gone(context: Context, certificate: dict[str, Any]) -> None:
    """A deleted Certificate that an Ingress controlled wakes that Ingress, which makes it again if it
    still asks for it (deleted by hand, or by the garbage collector after the Ingress was re-created)."""
    name = controlling_ingress(certificate)
    if name is None:
        return
    key = f"{certificate['metadata']['namespace']}/{name}"
    if key in context.ingresses:
        _trigger(context, key)


def _certificate_seen(context: Context, key: str) -> None:
    """An Ingress that could not create or adopt this Certificate (it existed, or changed, before this
    process had seen it — at start-up the Ingresses may be listed first) looks again now."""
    ingress = context.ingress_waiting.pop(key, None)
    if ingress is not None and ingress in context.ingresses:
        _trigger(context, ingress)


def _wait_for(context: Context, ingress: dict[str, Any], name: str, seen_version: str | None) -> None:
    """Look again when the Certificate is next observed; at once if it already has been, meanwhile."""
    namespace = ingress["metadata"]["namespace"]
    key, ingress_key = f"{namespace}/{name}", f"{namespace}/{ingress['metadata']['name']}"
    current = context.certificates.get(key)
    if current is not None and current["metadata"].get("resourceVersion") != seen_version:
        _trigger(context, ingress_key)
        return
    context.ingress_waiting[key] = ingress_key


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
        await _converge(context, ingress, name, spec)
    for name in set(owned) - set(plan.certificates):
        await context.kube.delete_certificate(namespace, name)
        await _event(
            context,
            ingress,
            "Normal",
            "DeleteCertificate",
            f"deleted Certificate {name}: no spec.tls entry or annotation asks for it",
        )


async def _converge(context: Context, ingress: dict[str, Any], name: str, spec: dict[str, Any]) -> None:
    """Create, adopt or update one Certificate the Ingress asks for; one owned by anything else is left alone."""
    current = context.certificates.get(f"{ingress['metadata']['namespace']}/{name}")
    if current is None:
        await _create(context, ingress, name, spec)
        return
    owner = owner_of(current, ingress)
    if owner is Owner.SOMEONE_ELSE:
        await _once(
            context,
            ingress,
            "Warning",
            "CertificateNotOwned",
            f"Certificate {name} exists and is not owned by this Ingress; certwright leaves it alone",
        )
        return
    if owner is Owner.EARLIER_INGRESS and not await _adopt(context, ingress, current):
        return
    await _update(context, ingress, current, spec)


async def _adopt(context: Context, ingress: dict[str, Any], current: Mapping[str, Any]) -> bool:
    """Take over a Certificate whose owner was an earlier Ingress of this name, before the garbage
    collector deletes it; False when it changed or went meanwhile.

    A Certificate changed since it was read is not overwritten: it is read again once the change is
    observed, and should the garbage collector delete it first, its deletion wakes this Ingress, which
    makes it again (``_certificate_gone``).
    """
    meta = current["metadata"]
    try:
        await context.kube.set_certificate_owner(
            meta["namespace"], meta["name"], owner_reference(ingress), resource_version=meta["resourceVersion"]
        )
    except Conflict:  # changed since it was read: again once the change is seen
        _wait_for(context, ingress, meta["name"], meta.get("resourceVersion"))
        return False
    except NotFound:  # gone: its deletion wakes this Ingress (``_certificate_gone``)
        return False
    await _event(
        context,
        ingress,
        "Normal",
        "UpdateCertificate",
        f"Certificate {meta['name']} now belongs to this Ingress: it was made for an earlier Ingress of this name",
    )
    return True


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
    if not created:  # it exists, though this process has not seen it yet
        _wait_for(context, ingress, name, None)
    else:
        await _event(
            context,
            ingress,
            "Normal",
            "CreateCertificate",
            f"created Certificate {name} for {', '.join(spec['dnsNames'])}",
        )


async def _update(context: Context, ingress: dict[str, Any], current: Mapping[str, Any], spec: dict[str, Any]) -> None:
    have = current.get("spec") or {}
    patch: dict[str, Any] = {}
    for key in COMPARED:
        want = _wanted(have.get(key), spec.get(key), CRD_DEFAULTS.get(key))
        if _differs(have.get(key), want):
            patch[key] = want
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


def _wanted(have: Any, want: Any, defaults: Mapping[str, Any] | None) -> Any:
    """The value to merge-patch: an object field the Ingress leaves out goes back to the CRD's default
    (null, which the API server fills in again), not left as it was."""
    if defaults is None:
        return want
    wanted = dict(want or defaults)
    if isinstance(have, Mapping):
        wanted.update({k: None for k in have if k not in wanted and k not in defaults})
    return wanted


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
