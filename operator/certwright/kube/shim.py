"""Certificates derived from another object (an annotated Ingress or Gateway): made, adopted, updated and
deleted to match what it asks for, level-based, as cert-manager's certificate-shim does.

Certificates are owned by their source (controller owner reference), so deleting it deletes them; a
Certificate it does not own is never touched. Nothing is written onto the source.

Reconciled from both sides (issue 10): a deleted Certificate wakes the object that should own it,
which makes it again, and a Certificate left by an earlier object of the same kind and name (deleted
and created again) is adopted at once rather than left to the garbage collector. Either way the
Secret is not owned by the Certificate, so the new one finds it and needs no new order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..domain import api
from ..domain.shim import Owner, Plan, controlling, owner_of
from .builders import owner_reference
from .client import ApiError, Conflict, NotFound
from .context import Context

COMPARED = ("secretName", "dnsNames", "renewBefore", "privateKey")
# What the API server fills in when the source asks for nothing (crds/certificates.yaml), so that an
# unset annotation is not a difference at every event.
CRD_DEFAULTS: dict[str, Any] = {"privateKey": {"algorithm": "ECDSA", "rotationPolicy": "Always"}}


@dataclass(frozen=True)
class CertificateShim:
    """The Certificates that objects of one kind ask for; the state lives in the context's maps."""

    context: Context
    kind: str  # "Ingress"
    api_version: str  # "networking.k8s.io/v1"
    plan: Callable[[Mapping[str, Any]], Plan]
    asks: str  # what in the source names a Certificate, for Events: "spec.tls entry"
    sources: dict[str, dict[str, Any]]  # latest body by ns/name
    said: set[tuple[Any, ...]]  # problems told already: (uid, generation, reason, message)
    waiting: dict[str, str]  # Certificate ns/name → source ns/name that waits to see it

    def listen(self) -> None:
        """Hear of Certificates deleted and observed (call once, at start-up)."""
        self.context.certificate_gone_listeners.append(self.certificate_gone)
        self.context.certificate_seen_listeners.append(self.certificate_seen)

    def observed(self, event_type: str | None, body: Mapping[str, Any]) -> None:
        meta = body["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        if event_type == "DELETED" or meta.get("deletionTimestamp"):
            self.sources.pop(key, None)  # its Certificates go with it (garbage collection)
            return
        self.sources[key] = {**dict(body), "kind": self.kind, "apiVersion": self.api_version}
        self.trigger(key)

    def trigger(self, key: str) -> None:
        self.context.runner.trigger(f"{self.kind}/{key}", lambda: self.reconcile(key))

    def certificate_gone(self, certificate: dict[str, Any]) -> None:
        """A deleted Certificate that an object of this kind controlled wakes that object, which makes it
        again if it still asks for it (deleted by hand, or by the garbage collector after the object was
        re-created)."""
        name = controlling(certificate, self.kind, self.api_version.rpartition("/")[0])
        if name is None:
            return
        key = f"{certificate['metadata']['namespace']}/{name}"
        if key in self.sources:
            self.trigger(key)

    def certificate_seen(self, key: str) -> None:
        """An object that could not create or adopt this Certificate (it existed, or changed, before this
        process had seen it — at start-up the sources may be listed first) looks again now."""
        source = self.waiting.pop(key, None)
        if source is not None and source in self.sources:
            self.trigger(source)

    def _wait_for(self, source: dict[str, Any], name: str, seen_version: str | None) -> None:
        """Look again when the Certificate is next observed; at once if it already has been, meanwhile."""
        namespace = source["metadata"]["namespace"]
        key, source_key = f"{namespace}/{name}", f"{namespace}/{source['metadata']['name']}"
        current = self.context.certificates.get(key)
        if current is not None and current["metadata"].get("resourceVersion") != seen_version:
            self.trigger(source_key)
            return
        self.waiting[key] = source_key

    async def reconcile(self, key: str) -> None:
        source = self.sources.get(key)
        if source is None:
            return
        plan = self.plan(source)
        if plan.problems:
            await self._once(source, "Warning", "BadConfig", "; ".join(plan.problems))
            return
        namespace = source["metadata"]["namespace"]
        owned = {key.split("/", 1)[1] for key in self.context.certificates_by_owner.get(source["metadata"]["uid"], ())}
        for name, spec in plan.certificates.items():
            await self._converge(source, name, spec)
        for name in owned - set(plan.certificates):
            deleted = await self.context.kube.delete_certificate(namespace, name)
            # Forgotten at once: a pass that runs before the watch brings the deletion must not delete
            # (and announce) it again.
            self.context.remember_certificate(f"{namespace}/{name}", None)
            if not deleted:
                continue
            await self._event(
                source,
                "Normal",
                "DeleteCertificate",
                f"deleted Certificate {name}: no {self.asks} or annotation asks for it",
            )

    async def _converge(self, source: dict[str, Any], name: str, spec: dict[str, Any]) -> None:
        """Create, adopt or update one Certificate the source asks for; one owned by anything else is left alone."""
        current = self.context.certificates.get(f"{source['metadata']['namespace']}/{name}")
        if current is None:
            await self._create(source, name, spec)
            return
        owner = owner_of(current, source)
        if owner is Owner.SOMEONE_ELSE:
            await self._once(
                source,
                "Warning",
                "CertificateNotOwned",
                f"Certificate {name} exists and is not owned by this {self.kind}; certwright leaves it alone",
            )
            return
        if owner is Owner.EARLIER and not await self._adopt(source, current):
            return
        await self._update(source, current, spec)

    async def _adopt(self, source: dict[str, Any], current: Mapping[str, Any]) -> bool:
        """Take over a Certificate whose owner was an earlier object of this kind and name, before the
        garbage collector deletes it; False when it changed or went meanwhile.

        A Certificate changed since it was read is not overwritten: it is read again once the change is
        observed, and should the garbage collector delete it first, its deletion wakes the source, which
        makes it again (``certificate_gone``).
        """
        meta = current["metadata"]
        try:
            await self.context.kube.set_certificate_owner(
                meta["namespace"], meta["name"], owner_reference(source), resource_version=meta["resourceVersion"]
            )
        except Conflict:  # changed since it was read: again once the change is seen
            self._wait_for(source, meta["name"], meta.get("resourceVersion"))
            return False
        except NotFound:  # gone: its deletion wakes the source (``certificate_gone``)
            return False
        await self._event(
            source,
            "Normal",
            "UpdateCertificate",
            f"Certificate {meta['name']} now belongs to this {self.kind}: "
            f"it was made for an earlier {self.kind} of this name",
        )
        return True

    async def _create(self, source: dict[str, Any], name: str, spec: dict[str, Any]) -> None:
        meta = source["metadata"]
        labels = {k: v for k, v in (meta.get("labels") or {}).items() if not k.startswith("applyset.kubernetes.io/")}
        body = {
            "apiVersion": api.API_VERSION,
            "kind": "Certificate",
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "labels": labels,
                "ownerReferences": [owner_reference(source)],
            },
            "spec": spec,
        }
        try:
            created = await self.context.kube.create_certificate(meta["namespace"], body)
        except ApiError as error:  # the CRD refuses what the source asks for (a 64-character label, …)
            await self._once(
                source, "Warning", "BadConfig", f"Certificate {name} cannot be made from this {self.kind}: {error}"
            )
            return
        if not created:
            self._wait_for(source, name, None)  # it exists, though this process has not seen it yet
            return
        await self._event(
            source, "Normal", "CreateCertificate", f"created Certificate {name} for {', '.join(spec['dnsNames'])}"
        )

    async def _update(self, source: dict[str, Any], current: Mapping[str, Any], spec: dict[str, Any]) -> None:
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
        try:
            await self.context.kube.patch_certificate_spec(current["metadata"]["namespace"], name, patch)
        except ApiError as error:
            await self._once(
                source, "Warning", "BadConfig", f"Certificate {name} cannot be updated from this {self.kind}: {error}"
            )
            return
        changed = ", ".join(sorted(patch))
        await self._event(source, "Normal", "UpdateCertificate", f"updated Certificate {name}: {changed}")

    async def _once(self, source: dict[str, Any], kind: str, reason: str, message: str) -> None:
        """A problem is said once per generation of the source, not at every event."""
        key = (source["metadata"]["uid"], source["metadata"].get("generation"), reason, message)
        if key in self.said:
            return
        self.said.add(key)
        await self._event(source, kind, reason, message)

    async def _event(self, source: dict[str, Any], kind: str, reason: str, message: str) -> None:
        await self.context.kube.event(source, kind, reason, message, self.context.clock())


def _wanted(have: Any, want: Any, defaults: Mapping[str, Any] | None) -> Any:
    """The value to merge-patch: an object field the source leaves out goes back to the CRD's default
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
