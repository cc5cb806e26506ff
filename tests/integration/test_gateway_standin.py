"""The stand-in implements a GatewayClass: Gateway and HTTPRoute status as the specification has it, and routing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from certwright_env import ECHO_IMAGE, STANDIN_POD_LABEL, Environment
from certwright_env.gatewayapi import GROUP, STANDIN_CONTROLLER, STANDIN_GATEWAY_CLASS
from certwright_env.probes import Reply, eventually, http_get

_RESTRICTED = {
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _namespace(env: Environment) -> str:
    name = f"gw-{uuid.uuid4().hex[:8]}"
    env.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def _get(env: Environment, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    scope = ["-n", namespace] if namespace else []
    result: dict[str, Any] = json.loads(env.kubectl("get", kind, name, *scope, "-o", "json").stdout)
    return result


def _conditions(obj: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in obj.get("conditions") or []}


def _echo(namespace: str, name: str) -> list[dict[str, Any]]:
    """An echo Pod answering its own name (a container on the real node, or a stand-in process), and its Service."""
    container = {
        "name": "main",
        "image": ECHO_IMAGE,
        "imagePullPolicy": "Never",
        "securityContext": _RESTRICTED,
        "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        "args": ["--address", "$(POD_IP)", "--port", "8080", "--text", name],
        "ports": [{"name": "http", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {STANDIN_POD_LABEL: "true", "app": name}},
        "spec": {"automountServiceAccountToken": False, "containers": [container]},
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"app": name}, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]},
    }
    return [pod, service]


def _route(ns: str, name: str, hostnames: list[str], rules: list[dict[str, Any]], **parent: Any) -> dict[str, Any]:
    """An HTTPRoute in ``ns`` whose parentRef is the Gateway ``gateway`` (``parent`` adds namespace, sectionName…)."""
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"parentRefs": [{"name": "gateway", **parent}], "hostnames": hostnames, "rules": rules},
    }


def _rule(service: str, path_type: str = "PathPrefix", path: str = "/") -> dict[str, Any]:
    return {
        "matches": [{"path": {"type": path_type, "value": path}}],
        "backendRefs": [{"name": service, "port": 80}],
    }


def _parent_status(env: Environment, namespace: str, route: str) -> dict[str, tuple[str, str]]:
    """Our status.parents entry's conditions, once the stand-in has written it."""
    entries = eventually(
        lambda: _get(env, "httproute", route, namespace).get("status", {}).get("parents") or [],
        lambda parents: any(p["controllerName"] == STANDIN_CONTROLLER for p in parents),
        what=f"the stand-in writes the status of HTTPRoute {namespace}/{route}",
    )
    return _conditions(next(p for p in entries if p["controllerName"] == STANDIN_CONTROLLER))


@pytest.fixture(scope="module")
def app(env: Environment) -> str:
    """A namespace with Pods ``a`` and ``b`` behind Services, and a Gateway taking routes from it only."""
    namespace = _namespace(env)
    env.apply(*_echo(namespace, "a"), *_echo(namespace, "b"))
    env.create_gateway(namespace, "gateway", routes_from="Same")
    env.kubectl("wait", "pod/a", "pod/b", "-n", namespace, "--for=condition=Ready", "--timeout=60s")
    return namespace


def test_the_environment_s_gateway_class_is_accepted(env: Environment) -> None:
    gateway_class = eventually(
        lambda: _get(env, "gatewayclass", STANDIN_GATEWAY_CLASS),
        lambda c: "Accepted" in _conditions(c.get("status", {})),
        what="the stand-in accepts its GatewayClass",
    )
    assert gateway_class["spec"]["controllerName"] == STANDIN_CONTROLLER
    assert _conditions(gateway_class["status"])["Accepted"] == ("True", "Accepted")


def test_a_gateway_gets_the_status_a_real_implementation_writes(env: Environment) -> None:
    namespace = _namespace(env)
    https = {
        "name": "https",
        "protocol": "HTTPS",
        "port": 443,
        "hostname": "shop.example.test",
        "tls": {"certificateRefs": [{"name": "shop-tls"}]},
    }
    listeners = [
        {"name": "http", "protocol": "HTTP", "port": 80},
        https,
        {"name": "other-port", "protocol": "HTTP", "port": 8080},
        {"name": "tcp", "protocol": "TCP", "port": 9000},
    ]
    env.create_gateway(namespace, "gateway", listeners=listeners)

    status = eventually(
        lambda: _get(env, "gateway", "gateway", namespace).get("status", {}),
        lambda s: len(s.get("listeners") or []) == 4,
        what="the stand-in writes the Gateway's status",
    )
    assert _conditions(status) == {"Accepted": ("True", "ListenersNotValid"), "Programmed": ("True", "Programmed")}
    assert status["addresses"] == [{"type": "IPAddress", "value": env.address}]
    by_name = {listener["name"]: listener for listener in status["listeners"]}
    assert _conditions(by_name["http"]) == {
        "Accepted": ("True", "Accepted"),
        "Programmed": ("True", "Programmed"),
        "ResolvedRefs": ("True", "ResolvedRefs"),
        "Conflicted": ("False", "NoConflicts"),
    }
    assert by_name["http"]["supportedKinds"] == [{"group": GROUP, "kind": "HTTPRoute"}]
    assert by_name["http"]["attachedRoutes"] == 0
    assert _conditions(by_name["https"])["ResolvedRefs"] == ("False", "InvalidCertificateRef")
    assert _conditions(by_name["https"])["Programmed"] == ("False", "Invalid")
    assert _conditions(by_name["other-port"])["Accepted"] == ("False", "PortUnavailable")
    assert _conditions(by_name["tcp"])["Accepted"] == ("False", "UnsupportedProtocol")
    assert by_name["tcp"]["supportedKinds"] == []

    env.kubectl(
        "create", "secret", "tls", "shop-tls", "-n", namespace,
        f"--cert={env.apiserver_pair.cert}", f"--key={env.apiserver_pair.key}",
    )  # fmt: skip
    eventually(
        lambda: _get(env, "gateway", "gateway", namespace)["status"]["listeners"],
        lambda ls: _conditions(next(x for x in ls if x["name"] == "https"))["ResolvedRefs"] == ("True", "ResolvedRefs"),
        what="the HTTPS listener's certificateRef resolves once its Secret exists",
    )


def test_routes_go_by_hostname_and_path_precedence_to_the_pod_behind_the_service(env: Environment, app: str) -> None:
    host = f"web.{app}.example.test"
    rules = [_rule("a"), _rule("b", "PathPrefix", "/api"), _rule("a", "Exact", "/api/v1")]
    env.apply(
        _route(app, "web", [host], rules),
        _route(app, "wild", [f"*.wild.{app}.example.test"], [_rule("b")]),
        _route(app, "narrow", [f"narrow.{app}.example.test"], [_rule("a", "Exact", "/only")]),
    )

    assert _parent_status(env, app, "web") == {
        "Accepted": ("True", "Accepted"),
        "ResolvedRefs": ("True", "ResolvedRefs"),
    }
    cases = {
        (host, "/"): b"a",
        (host, "/api/x?y=1"): b"b",  # the longer prefix
        (host, "/api/v1"): b"a",  # Exact over any prefix
        (host, "/apiv1"): b"a",  # a prefix matches whole path elements
        (f"x.y.wild.{app}.example.test", "/"): b"b",  # a wildcard hostname matches one label or more
    }
    for (request_host, path), body in cases.items():
        reply = eventually(
            lambda h=request_host, p=path: http_get(env, h, p),  # type: ignore[misc]
            lambda r: r.status == 200,
            what=f"{request_host}{path} is routed",
        )
        assert reply.body == body, (request_host, path)
    eventually(
        lambda: _get(env, "gateway", "gateway", app)["status"]["listeners"][0]["attachedRoutes"],
        lambda count: count >= 3,  # (other tests of the module attach more)
        what="the listener counts the routes attached to it",
    )


def test_a_miss_is_a_404_naming_the_hop(env: Environment, app: str) -> None:
    host = f"miss.{app}.example.test"
    env.apply(_route(app, "miss", [host], [_rule("a", "Exact", "/only")]))
    _parent_status(env, app, "miss")

    reply: Reply = eventually(lambda: http_get(env, host, "/elsewhere"), lambda r: r.hop is not None)

    assert reply.status == 404
    assert reply.hop == f"gateway route: no rule of HTTPRoute {app}/miss matches GET /elsewhere on {host}"
    assert http_get(env, host, "/only").body == b"a"


def test_a_route_from_another_namespace_is_not_allowed_by_a_same_namespace_listener(env: Environment, app: str) -> None:
    other = _namespace(env)
    env.apply(_route(other, "foreign", [f"foreign.{app}.example.test"], [_rule("a")], namespace=app))

    assert _parent_status(env, other, "foreign")["Accepted"] == ("False", "NotAllowedByListeners")


def test_a_missing_backend_service_is_backend_not_found_and_answers_500(env: Environment, app: str) -> None:
    host = f"missing.{app}.example.test"
    env.apply(_route(app, "missing", [host], [_rule("nothing")]))

    conditions = _parent_status(env, app, "missing")

    assert conditions == {"Accepted": ("True", "Accepted"), "ResolvedRefs": ("False", "BackendNotFound")}
    reply = http_get(env, host, "/")
    assert reply.status == 500
    assert reply.hop is not None
    assert reply.hop.startswith(f"backend service: Service {app}/nothing does not exist")


def test_a_section_name_no_listener_has_is_no_matching_parent(env: Environment, app: str) -> None:
    env.apply(_route(app, "section", [f"section.{app}.example.test"], [_rule("a")], sectionName="nope"))

    assert _parent_status(env, app, "section")["Accepted"] == ("False", "NoMatchingParent")


def test_a_parent_gateway_that_does_not_exist_gets_no_status(env: Environment, app: str) -> None:
    route = _route(app, "orphan", [f"orphan.{app}.example.test"], [_rule("a")])
    route["spec"]["parentRefs"] = [{"name": "no-such-gateway"}]
    env.apply(route, _route(app, "witness", [f"witness.{app}.example.test"], [_rule("a")]))

    _parent_status(env, app, "witness")  # written after the orphan was seen: the stand-in has passed over it

    assert not _get(env, "httproute", "orphan", app).get("status", {}).get("parents")


def test_an_environment_without_the_gateway_api_has_no_gateway_crds() -> None:
    with Environment(real_node=False, gateway_api=False) as bare:
        crds = bare.kubectl("get", "crd", "-o", "name").stdout
        resources = bare.kubectl("api-resources", f"--api-group={GROUP}", "-o", "name").stdout
    bare.remove_run_dir()
    assert GROUP not in crds
    assert resources.strip() == ""
