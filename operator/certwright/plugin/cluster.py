"""The API calls the plugin makes with the user's kubeconfig, as plain dicts, with errors a user can act on.

``Cluster`` is the seam the commands are written against; tests give them a fake with the same methods.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any, Protocol

from kubernetes import client, config

from ..domain import api
from ..kube.builders import GATEWAY_GROUP
from .errors import CrdsMissing, Forbidden, NoSuchObject, PluginError

Obj = dict[str, Any]
MERGE_PATCH = "application/merge-patch+json"
FIELD_MANAGER = "kubectl-certwright"


class Reader(Protocol):
    """What the read-only commands (list, status) need from the cluster."""

    def list_custom(self, plural: str, namespace: str | None, selector: str = "") -> list[Obj]: ...
    def get_custom(self, plural: str, namespace: str | None, name: str) -> Obj | None: ...
    def get_secret(self, namespace: str, name: str) -> Obj | None: ...
    def events(self, namespace: str | None, kind: str, name: str) -> list[Obj]: ...


def connect(kubeconfig: str | None, context: str | None) -> tuple[client.ApiClient, str]:
    """An API client for the kubeconfig (``--kubeconfig``, else ``KUBECONFIG``, else ~/.kube/config, else
    in-cluster) and the namespace its context names (``default`` when none)."""
    try:
        api_client = config.new_client_from_config(config_file=kubeconfig, context=context)  # type: ignore[no-untyped-call]
        contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
        if context:
            active = next((c for c in contexts if c.get("name") == context), active)
        namespace = (active.get("context") or {}).get("namespace") or "default"
    except config.ConfigException as error:
        if kubeconfig is not None:
            raise PluginError(f"cannot use kubeconfig {kubeconfig}: {error}") from error
        try:
            config.load_incluster_config()  # type: ignore[no-untyped-call]
        except config.ConfigException:
            raise PluginError(f"no usable kubeconfig ({error}); pass --kubeconfig or set KUBECONFIG") from error
        return client.ApiClient(), "default"
    return api_client, namespace


def _message(error: client.ApiException) -> str:
    try:
        return str(json.loads(error.body or "{}").get("message") or error.reason)
    except (TypeError, ValueError):
        return str(error.reason)


class Cluster:
    """The user's view of the cluster: every call names its verb and resource, for a 403 that says which."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.core = client.CoreV1Api(api_client)
        self.networking = client.NetworkingV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)

    def _call(self, verb: str, resource: str, namespace: str | None, function: Callable[..., Any], *args: Any) -> Any:
        try:
            response = function(*args, _preload_content=False)
        except client.ApiException as error:
            if error.status == 403:
                raise Forbidden(verb, resource, namespace, _message(error)) from error
            if error.status == 404:
                if resource.endswith(api.GROUP) and not self._serves_group():
                    raise CrdsMissing(
                        f"the API server does not serve {api.API_VERSION}: certwright's CRDs are not installed "
                        "(kubectl apply -f crds/, or install the chart)"
                    ) from error
                raise NoSuchObject(_message(error)) from error
            raise PluginError(f"{verb} {resource}: {error.status} {_message(error)}") from error
        return json.loads(response.data) if response.data else {}

    def _serves_group(self) -> bool:
        try:
            self.custom.get_api_resources(api.GROUP, api.VERSION)
        except client.ApiException as error:
            if error.status == 404:
                return False
            raise PluginError(f"discovery of {api.API_VERSION}: {error.status} {_message(error)}") from error
        return True

    # -- certwright's resources ------------------------------------------------------------------

    def list_custom(self, plural: str, namespace: str | None, selector: str = "") -> list[Obj]:
        """Certificates, Issuers, ClusterIssuers or Challenges (``namespace`` None: all namespaces)."""
        resource = f"{plural}.{api.GROUP}"
        if namespace is None or plural == api.CLUSTER_ISSUERS:
            found = self._call(
                "list",
                resource,
                None,
                lambda **kw: self.custom.list_cluster_custom_object(
                    api.GROUP, api.VERSION, plural, label_selector=selector, **kw
                ),
            )
        else:
            found = self._call(
                "list",
                resource,
                namespace,
                lambda **kw: self.custom.list_namespaced_custom_object(
                    api.GROUP, api.VERSION, namespace, plural, label_selector=selector, **kw
                ),
            )
        items: list[Obj] = found.get("items") or []
        return items

    def get_custom(self, plural: str, namespace: str | None, name: str) -> Obj | None:
        """One certwright object; None when it does not exist (CrdsMissing when its kind does not)."""
        resource = f"{plural}.{api.GROUP}"
        try:
            if namespace is None:
                found: Obj = self._call(
                    "get", resource, None, self.custom.get_cluster_custom_object, api.GROUP, api.VERSION, plural, name
                )
            else:
                found = self._call(
                    "get",
                    resource,
                    namespace,
                    self.custom.get_namespaced_custom_object,
                    api.GROUP,
                    api.VERSION,
                    namespace,
                    plural,
                    name,
                )
        except NoSuchObject:
            return None
        return found

    def annotate(self, plural: str, namespace: str, name: str, annotations: dict[str, str]) -> None:
        self._call(
            "patch",
            f"{plural}.{api.GROUP}",
            namespace,
            lambda **kw: self.custom.patch_namespaced_custom_object(
                api.GROUP, api.VERSION, namespace, plural, name, {"metadata": {"annotations": annotations}}, **kw
            ),
        )

    # -- core ------------------------------------------------------------------------------------

    def get_secret(self, namespace: str, name: str) -> Obj | None:
        try:
            found: Obj = self._call("get", "secrets", namespace, self.core.read_namespaced_secret, name, namespace)
        except NoSuchObject:
            return None
        return found

    def get_pod(self, namespace: str, name: str) -> Obj | None:
        try:
            found: Obj = self._call("get", "pods", namespace, self.core.read_namespaced_pod, name, namespace)
        except NoSuchObject:
            return None
        return found

    def events(self, namespace: str | None, kind: str, name: str) -> list[Obj]:
        """The Events about one object, oldest first."""
        selector = f"involvedObject.kind={kind},involvedObject.name={name}"
        if namespace is None:
            found = self._call(
                "list",
                "events",
                None,
                lambda **kw: self.core.list_event_for_all_namespaces(field_selector=selector, **kw),
            )
        else:
            found = self._call(
                "list",
                "events",
                namespace,
                lambda **kw: self.core.list_namespaced_event(namespace, field_selector=selector, **kw),
            )
        items: list[Obj] = found.get("items") or []
        return sorted(items, key=_event_time)

    def get_route(self, namespace: str, name: str) -> Obj | None:
        """A Gateway API HTTPRoute; None when it (or its CRD) is absent."""
        try:
            found: Obj = self._call(
                "get",
                f"httproutes.{GATEWAY_GROUP}",
                namespace,
                self.custom.get_namespaced_custom_object,
                GATEWAY_GROUP,
                "v1",
                namespace,
                "httproutes",
                name,
            )
        except NoSuchObject:
            return None
        return found

    # -- check's solver objects ------------------------------------------------------------------

    def create(self, body: Obj) -> None:
        """Create a Pod, Service, Ingress or HTTPRoute."""
        namespace, kind = body["metadata"]["namespace"], body["kind"]
        if kind == "HTTPRoute":
            self._call(
                "create",
                f"httproutes.{GATEWAY_GROUP}",
                namespace,
                lambda **kw: self.custom.create_namespaced_custom_object(
                    GATEWAY_GROUP, "v1", namespace, "httproutes", body, field_manager=FIELD_MANAGER, **kw
                ),
            )
            return
        creators: dict[str, tuple[str, Callable[..., Any]]] = {
            "Pod": ("pods", self.core.create_namespaced_pod),
            "Service": ("services", self.core.create_namespaced_service),
            "Ingress": ("ingresses", self.networking.create_namespaced_ingress),
        }
        resource, function = creators[kind]
        self._call(
            "create", resource, namespace, lambda **kw: function(namespace, body, field_manager=FIELD_MANAGER, **kw)
        )

    def delete_labelled(self, namespace: str, selector: str, *, routes: bool) -> None:
        """Delete the HTTPRoutes (when ``routes``), Ingresses, Services and Pods with this label.

        Services are listed and deleted one by one: not every API server serves deletecollection for them."""
        if routes:
            self._call(
                "delete",
                f"httproutes.{GATEWAY_GROUP}",
                namespace,
                lambda **kw: self.custom.delete_collection_namespaced_custom_object(
                    GATEWAY_GROUP, "v1", namespace, "httproutes", label_selector=selector, **kw
                ),
            )
        self._call(
            "delete",
            "ingresses",
            namespace,
            lambda **kw: self.networking.delete_collection_namespaced_ingress(namespace, label_selector=selector, **kw),
        )
        for name in self._names("services", namespace, selector, self.core.list_namespaced_service):
            with contextlib.suppress(NoSuchObject):
                self._call("delete", "services", namespace, self.core.delete_namespaced_service, name, namespace)
        self._call(
            "delete",
            "pods",
            namespace,
            lambda **kw: self.core.delete_collection_namespaced_pod(
                namespace, label_selector=selector, grace_period_seconds=0, **kw
            ),
        )

    def _names(self, resource: str, namespace: str, selector: str, lister: Callable[..., Any]) -> list[str]:
        listed = self._call("list", resource, namespace, lambda **kw: lister(namespace, label_selector=selector, **kw))
        return [item["metadata"]["name"] for item in listed.get("items") or []]

    def list_labelled(self, namespace: str, selector: str, *, routes: bool) -> list[str]:
        """``Kind/name`` of every solver object with this label (what ``delete_labelled`` removes)."""
        listers: list[tuple[str, str, Callable[..., Any]]] = [
            ("Ingress", "ingresses", self.networking.list_namespaced_ingress),
            ("Service", "services", self.core.list_namespaced_service),
            ("Pod", "pods", self.core.list_namespaced_pod),
        ]
        if routes:
            listers.append(
                (
                    "HTTPRoute",
                    f"httproutes.{GATEWAY_GROUP}",
                    lambda ns, **kw: self.custom.list_namespaced_custom_object(
                        GATEWAY_GROUP, "v1", ns, "httproutes", **kw
                    ),
                )
            )
        return [
            f"{kind}/{name}"
            for kind, resource, lister in listers
            for name in self._names(resource, namespace, selector, lister)
        ]


def _event_time(event: Obj) -> str:
    return str(event.get("lastTimestamp") or event.get("eventTime") or event["metadata"].get("creationTimestamp") or "")
