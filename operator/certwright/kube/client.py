"""Thin async adapters over the API server's REST paths: every call runs in a thread, never on the loop.

Objects travel as plain dicts, so that the controllers see what the API server sent, and so that no
generated model (or generated API class, see ``rest``) is built for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import logging
from collections.abc import Mapping
from typing import Any, TypeVar

from kubernetes import client

from ..domain import api
from . import builders
from .rest import JSON, Rest, path

log = logging.getLogger(__name__)
T = TypeVar("T")
Obj = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
# Every kind of solver object a Challenge may have (a leftover of unknown kind is looked for under each).
SOLVER_KINDS = ("Ingress", "HTTPRoute", "Service", "Pod")
KINDS = {  # kind → (group, version, plural) of what the operator creates
    "Pod": ("", "v1", "pods"),
    "Service": ("", "v1", "services"),
    "Ingress": ("networking.k8s.io", "v1", "ingresses"),
    "HTTPRoute": (builders.GATEWAY_GROUP, "v1", "httproutes"),
    "Challenge": (api.GROUP, api.VERSION, api.CHALLENGES),
}


class NotFound(Exception):
    """The object does not exist (404)."""


class Conflict(Exception):
    """The object already exists, or changed since it was read (409)."""


class ApiError(Exception):
    """Any other refusal by the API server (403 from an admission policy or quota, 422, 5xx): its message."""


def _message(error: client.ApiException) -> str:
    """The API server's own words (a Status object's message), else the HTTP reason."""
    try:
        return str(json.loads(error.body or "{}").get("message") or error.reason)
    except (TypeError, ValueError):
        return str(error.reason)


class Kube:
    """The API calls the operator makes, and nothing else (RBAC in manifests/ grants exactly these)."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.rest = Rest(api_client)

    async def _call(
        self,
        method: str,
        url_path: str,
        body: Obj | None = None,
        *,
        content_type: str = JSON,
        **query: Any,
    ) -> Obj:
        def run() -> Obj:
            try:
                return self.rest.request(method, url_path, query=query, body=body, content_type=content_type)
            except client.ApiException as error:
                what = f"{method} {url_path}"
                if error.status == 404:
                    raise NotFound(f"{what}: {error.reason}") from error
                if error.status == 409:
                    raise Conflict(f"{what}: {error.reason}") from error
                raise ApiError(f"{error.status} {_message(error)}") from error

        return await asyncio.to_thread(run)

    # -- Secrets ---------------------------------------------------------------------------------

    async def get_secret(self, namespace: str, name: str) -> Obj | None:
        try:
            return await self._call("GET", path("", "v1", "secrets", namespace, name))
        except NotFound:
            return None

    async def create_secret(self, namespace: str, body: Obj) -> Obj:
        return await self._call("POST", path("", "v1", "secrets", namespace), body, fieldManager=api.FIELD_MANAGER)

    async def replace_secret(self, namespace: str, body: Obj) -> Obj:
        name = body["metadata"]["name"]
        return await self._call("PUT", path("", "v1", "secrets", namespace, name), body, fieldManager=api.FIELD_MANAGER)

    async def patch_secret_metadata(
        self, namespace: str, name: str, labels: Mapping[str, str], annotations: Mapping[str, str]
    ) -> None:
        body = {"metadata": {"labels": dict(labels), "annotations": dict(annotations)}}
        await self._call(
            "PATCH",
            path("", "v1", "secrets", namespace, name),
            body,
            content_type=MERGE_PATCH,
            fieldManager=api.FIELD_MANAGER,
        )

    async def delete_secret(self, namespace: str, name: str) -> None:
        with contextlib.suppress(NotFound):
            await self._call("DELETE", path("", "v1", "secrets", namespace, name))

    # -- solver objects ----------------------------------------------------------------------------

    async def create(self, body: Obj) -> Obj:
        """Create a Pod, Service, Ingress, HTTPRoute or Challenge; an existing one (a resumed issuance) is fine."""
        namespace = body["metadata"]["namespace"]
        kind = body["kind"]
        group, version, plural = KINDS[kind]
        manager = {} if kind == "Challenge" else {"fieldManager": api.FIELD_MANAGER}
        try:
            return await self._call("POST", path(group, version, plural, namespace), body, **manager)
        except Conflict:
            log.debug("%s %s/%s exists already", kind, namespace, body["metadata"]["name"])
            if kind == "Challenge":
                return await self.get_challenge(namespace, body["metadata"]["name"])
            return body

    async def get_gateway_object(self, plural: str, namespace: str, name: str) -> Obj | None:
        """A Gateway API object (``gateways``, ``httproutes``) by name; None when it (or its CRD) is absent."""
        try:
            return await self._call("GET", path(builders.GATEWAY_GROUP, "v1", plural, namespace, name))
        except NotFound:
            return None

    async def get_challenge(self, namespace: str, name: str) -> Obj:
        return await self._call("GET", path(api.GROUP, api.VERSION, api.CHALLENGES, namespace, name))

    async def delete_challenge(
        self, namespace: str, name: str, *, solver_kinds: tuple[str, ...] = SOLVER_KINDS
    ) -> None:
        """Delete a Challenge and its solver objects of ``solver_kinds`` (owner references back this up);
        a DNS-01 Challenge has none, an HTTP-01 one an Ingress or an HTTPRoute."""
        solver = builders.solver_name(name)
        doomed = [path(api.GROUP, api.VERSION, api.CHALLENGES, namespace, name)]
        doomed += [path(*KINDS[kind], namespace, solver) for kind in solver_kinds]

        async def delete(url_path: str) -> None:
            with contextlib.suppress(NotFound):
                await self._call("DELETE", url_path, propagationPolicy="Background")

        await asyncio.gather(*(delete(url_path) for url_path in doomed))

    async def release_challenge(self, namespace: str, name: str, finalizers: list[str]) -> None:
        """Drop certwright's finalizer from a Challenge (its DNS record is gone), keeping ``finalizers``."""
        with contextlib.suppress(NotFound):
            await self._call(
                "PATCH",
                path(api.GROUP, api.VERSION, api.CHALLENGES, namespace, name),
                {"metadata": {"finalizers": finalizers or None}},
                content_type=MERGE_PATCH,
            )

    async def patch_challenge_status(self, namespace: str, name: str, status: Obj) -> None:
        with contextlib.suppress(NotFound):
            await self._call(
                "PATCH",
                path(api.GROUP, api.VERSION, api.CHALLENGES, namespace, name) + "/status",
                {"status": status},
                content_type=MERGE_PATCH,
            )

    # -- our resources -------------------------------------------------------------------------

    async def patch_status(self, plural: str, namespace: str | None, name: str, status: Obj) -> Obj:
        """Merge-patch the status subresource (one writer per status: this operator)."""
        url_path = path(api.GROUP, api.VERSION, plural, namespace, name) + "/status"
        return await self._call("PATCH", url_path, {"status": status}, content_type=MERGE_PATCH)

    async def merge_patch(self, plural: str, namespace: str, name: str, body: Obj) -> None:
        """Merge-patch one of our namespaced objects (not its status)."""
        await self._call("PATCH", path(api.GROUP, api.VERSION, plural, namespace, name), body, content_type=MERGE_PATCH)

    async def remove_annotation(self, plural: str, namespace: str, name: str, key: str) -> None:
        await self.merge_patch(plural, namespace, name, {"metadata": {"annotations": {key: None}}})

    async def create_certificate(self, namespace: str, body: Obj) -> bool:
        """Create a Certificate; False when one of that name exists already."""
        try:
            await self._call("POST", path(api.GROUP, api.VERSION, api.CERTIFICATES, namespace), body)
        except Conflict:
            return False
        return True

    async def patch_certificate_spec(self, namespace: str, name: str, spec: Obj) -> None:
        await self.merge_patch(api.CERTIFICATES, namespace, name, {"spec": spec})

    async def set_certificate_owner(
        self, namespace: str, name: str, owner_reference: Obj, *, resource_version: str
    ) -> None:
        """Make ``owner_reference`` the Certificate's only owner, if it is still at ``resource_version``.

        The precondition raises Conflict when the Certificate changed since it was read, so that what
        changed is read again rather than overwritten; NotFound when it is gone.
        """
        body = {"metadata": {"resourceVersion": resource_version, "ownerReferences": [owner_reference]}}
        await self.merge_patch(api.CERTIFICATES, namespace, name, body)

    async def delete_certificate(self, namespace: str, name: str) -> bool:
        """Delete a Certificate; False when it was gone already."""
        try:
            await self._call("DELETE", path(api.GROUP, api.VERSION, api.CERTIFICATES, namespace, name))
        except NotFound:
            return False
        return True

    # -- Events ----------------------------------------------------------------------------------

    async def event(
        self, involved: Mapping[str, Any], kind: str, reason: str, message: str, now: datetime.datetime
    ) -> None:
        """Post one Event on an object; a failure to post is logged, never raised."""
        meta = involved["metadata"]
        namespace = meta.get("namespace") or "default"
        stamp = now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": namespace},
            "involvedObject": {
                "apiVersion": involved.get("apiVersion", api.API_VERSION),
                "kind": involved["kind"],
                "name": meta["name"],
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
            },
            "type": kind,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": "certwright"},
            "reportingComponent": "certwright",
            "reportingInstance": "certwright",
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        try:
            await self._call("POST", path("", "v1", "events", namespace), body)
        except (ApiError, Conflict, NotFound) as error:  # a namespace going away, a quota: said, not raised
            log.warning("could not post Event %s on %s/%s: %s", reason, namespace, meta["name"], error)
        except Exception:
            log.warning("could not post Event %s on %s/%s", reason, namespace, meta["name"], exc_info=True)

    # -- solver Pods -----------------------------------------------------------------------------

    async def read_pod(self, namespace: str, name: str) -> Obj | None:
        try:
            return await self._call("GET", path("", "v1", "pods", namespace, name))
        except NotFound:
            return None
