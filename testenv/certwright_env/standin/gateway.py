"""The Gateway API half of the stand-in: status for its GatewayClass, Gateways and HTTPRoutes, and their routes.

It observes GatewayClasses, Gateways, HTTPRoutes, Namespaces (for ``allowedRoutes`` selectors),
Services (for backendRefs) and Secrets of type kubernetes.io/tls (for HTTPS certificateRefs), and
writes, as a real implementation does: the GatewayClass's ``Accepted``; each Gateway's ``Accepted``,
``Programmed``, ``addresses`` (the environment's address) and per-listener status; each HTTPRoute's
``status.parents`` entry for every parentRef naming one of our Gateways (entries of other controllers
are kept). Requests reach it through the ingress half's socket (see ``ingress.IngressController.route``).
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from ..gatewayapi import GROUP, STANDIN_CONTROLLER, build_gateway_class
from . import gateways, httproutes
from .gateways import Condition, Listener, ParentOutcome, name_of
from .routing import Backend, Miss
from .watchcache import Obj, WatchCache

log = logging.getLogger(__name__)
_MERGE = "application/merge-patch+json"


@dataclass
class World:
    """What the stand-in makes of the Gateway API objects at one moment."""

    classes: list[Obj]
    listeners: dict[str, list[Listener]]  # by Gateway namespace/name, for our Gateways only
    gateways: dict[str, Obj]
    routes: list[tuple[Obj, list[ParentOutcome], Condition]]
    attachments: list[httproutes.Attachment]


def evaluate(
    classes: Iterable[Obj],
    gateway_objects: Iterable[Obj],
    routes: Iterable[Obj],
    namespaces: Mapping[str, Obj],
    tls_secrets: Mapping[str, Obj],
    services: Mapping[str, Obj],
) -> World:
    ours = gateways.our_classes(classes)
    owned = {name_of(g): g for g in gateway_objects if g.get("spec", {}).get("gatewayClassName") in ours}
    listeners = {key: gateways.evaluate_listeners(g, tls_secrets) for key, g in owned.items()}
    outcomes, attachments = [], []
    for route in routes:
        parents = gateways.attach(route, listeners, namespaces)
        outcomes.append((route, parents, gateways.resolve_backends(route, services)))
        for parent in parents:
            for listener, hostnames in parent.listeners:
                listener.attached += 1
                if listener.served:
                    attachments.append(httproutes.Attachment(route, hostnames))
    our_class_objects = [c for c in classes if c["metadata"]["name"] in ours]
    return World(our_class_objects, listeners, owned, outcomes, attachments)


def conditions(new: list[Condition], old: list[Obj] | None, generation: int, now: str) -> list[dict[str, Any]]:
    """metav1.Conditions: a condition's lastTransitionTime changes only when its status does."""
    previous = {c.get("type"): c for c in old or []}
    result = []
    for condition in new:
        status = "True" if condition.status else "False"
        before = previous.get(condition.type)
        changed = before is None or before.get("status") != status
        result.append(
            {
                "type": condition.type,
                "status": status,
                "reason": condition.reason,
                "message": condition.message,
                "observedGeneration": generation,
                "lastTransitionTime": now if changed else before["lastTransitionTime"],  # type: ignore[index]
            }
        )
    return result


def class_status(gateway_class: Obj, now: str) -> dict[str, Any]:
    if gateway_class.get("spec", {}).get("parametersRef"):
        accepted = Condition("Accepted", False, "InvalidParameters", "the stand-in takes no parameters")
    else:
        accepted = Condition("Accepted", True, "Accepted", "served by the certwright test environment's stand-in")
    old = gateway_class.get("status", {}).get("conditions")
    return {"conditions": conditions([accepted], old, _generation(gateway_class), now)}


def gateway_status(gateway: Obj, listeners: list[Listener], address: str, now: str) -> dict[str, Any]:
    generation = _generation(gateway)
    old = gateway.get("status", {})
    accepted_count = sum(1 for listener in listeners if listener.accepted.status)
    if accepted_count == len(listeners):
        accepted = Condition("Accepted", True, "Accepted")
    else:
        refused = ", ".join(f"{x.name} ({x.accepted.reason})" for x in listeners if not x.accepted.status)
        accepted = Condition("Accepted", accepted_count > 0, "ListenersNotValid", f"listeners not accepted: {refused}")
    wanted = [a.get("value") for a in gateway.get("spec", {}).get("addresses") or []]
    if any(value != address for value in wanted):
        message = f"the stand-in has one address, {address}; asked for {', '.join(map(str, wanted))}"
        programmed = Condition("Programmed", False, "AddressNotAssigned", message)
    elif any(listener.served for listener in listeners):
        programmed = Condition("Programmed", True, "Programmed", f"serving HTTP on {address}:80")
    else:
        programmed = Condition(
            "Programmed", False, "Invalid" if not accepted_count else "Pending", "no listener is served"
        )
    old_listeners = {x.get("name"): x.get("conditions") for x in old.get("listeners") or []}
    return {
        "addresses": [{"type": "IPAddress", "value": address}],
        "conditions": conditions([accepted, programmed], old.get("conditions"), generation, now),
        "listeners": [
            {
                "name": listener.name,
                "supportedKinds": [{"group": GROUP, "kind": kind} for kind in listener.kinds],
                "attachedRoutes": listener.attached,
                "conditions": conditions(
                    [listener.accepted, listener.programmed, listener.resolved, listener.conflicted],
                    old_listeners.get(listener.name),
                    generation,
                    now,
                ),
            }
            for listener in listeners
        ],
    }


def route_status(route: Obj, parents: list[ParentOutcome], resolved: Condition, now: str) -> dict[str, Any]:
    """``status.parents``: other controllers' entries as they are, ours for the parentRefs naming our Gateways."""
    old = route.get("status", {}).get("parents") or []
    others = [entry for entry in old if entry.get("controllerName") != STANDIN_CONTROLLER]
    ours = {_ref_key(e.get("parentRef") or {}): e for e in old if e.get("controllerName") == STANDIN_CONTROLLER}
    generation = _generation(route)
    entries = [
        {
            "parentRef": dict(parent.parent_ref),
            "controllerName": STANDIN_CONTROLLER,
            "conditions": conditions(
                [parent.accepted, resolved],
                (ours.get(_ref_key(parent.parent_ref)) or {}).get("conditions"),
                generation,
                now,
            ),
        }
        for parent in parents
    ]
    return {"parents": others + entries}


def _ref_key(ref: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(ref.get(k) for k in ("group", "kind", "namespace", "name", "sectionName", "port"))


def _generation(obj: Obj) -> int:
    return int(obj.get("metadata", {}).get("generation") or 0)


def _now(clock: Callable[[], datetime.datetime]) -> str:
    return clock().astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class GatewayCaches:
    classes: WatchCache
    gateways: WatchCache
    routes: WatchCache
    namespaces: WatchCache
    tls_secrets: WatchCache

    def all(self) -> list[WatchCache]:
        return [self.classes, self.gateways, self.routes, self.namespaces, self.tls_secrets]


class GatewayController:
    """Implements the GatewayClasses of controller ``certwright.dev/stand-in``."""

    def __init__(
        self,
        api: client.CustomObjectsApi,
        caches: GatewayCaches,
        services: WatchCache,
        address: str,
        clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
    ) -> None:
        self.api = api
        self.caches = caches
        self.services = services
        self.address = address
        self.clock = clock
        self._dirty = threading.Event()
        for cache in [*caches.all(), services]:
            cache.add_listener(lambda kind, obj: self._dirty.set())

    def ensure_gateway_class(self, name: str) -> None:
        """Create the environment's GatewayClass (of our controller) unless it exists."""
        try:
            self.api.create_cluster_custom_object(GROUP, "v1", "gatewayclasses", build_gateway_class(name))
        except client.ApiException as error:
            if error.status != 409:
                raise

    def world(self) -> World:
        c = self.caches
        return evaluate(
            c.classes.items(),
            c.gateways.items(),
            c.routes.items(),
            {obj["metadata"]["name"]: obj for obj in c.namespaces.items()},
            c.tls_secrets.by_key(),
            self.services.by_key(),
        )

    def route(self, request: httproutes.Request, *, named_only: bool) -> Backend | Miss | None:
        """The backend an attached HTTPRoute gives ``request``; a Miss; None when no route claims its host."""
        return httproutes.select_route(self.world().attachments, request, self.services.by_key(), named_only=named_only)

    def start(self) -> None:
        self._dirty.set()
        threading.Thread(target=self._run, name="gateway-status", daemon=True).start()

    def _run(self) -> None:
        while True:
            self._dirty.wait()
            self._dirty.clear()
            try:
                self.reconcile()
            except Exception:
                log.exception("writing Gateway API status failed; trying again")
                self._dirty.set()
                threading.Event().wait(1)

    def reconcile(self) -> None:
        """Write every status that differs from what it should be."""
        world, now = self.world(), _now(self.clock)
        for gateway_class in world.classes:
            self._write(gateway_class, "gatewayclasses", class_status(gateway_class, now))
        for key, gateway in world.gateways.items():
            self._write(gateway, "gateways", gateway_status(gateway, world.listeners[key], self.address, now))
        for route, parents, resolved in world.routes:
            if parents or route.get("status", {}).get("parents"):
                self._write(route, "httproutes", route_status(route, parents, resolved, now))

    def _write(self, obj: Obj, plural: str, status: dict[str, Any]) -> None:
        current = obj.get("status") or {}
        if all(current.get(key) == value for key, value in status.items()):
            return
        meta = obj["metadata"]
        body = {"status": status}
        try:
            if "namespace" in meta:
                self.api.patch_namespaced_custom_object_status(
                    GROUP, "v1", meta["namespace"], plural, meta["name"], body, _content_type=_MERGE
                )
            else:
                self.api.patch_cluster_custom_object_status(
                    GROUP, "v1", plural, meta["name"], body, _content_type=_MERGE
                )
        except client.ApiException as error:
            if error.status != 404:
                raise
        log.info("%s %s: status written", plural, name_of(obj).lstrip("/"))
