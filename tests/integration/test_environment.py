"""The local environment behaves like a cluster where certwright depends on it."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from certwright_env import ECHO_IMAGE, STANDIN_POD_LABEL, Environment
from certwright_env.probes import eventually, http_get, resolve


def _apply(env: Environment, *objects: dict[str, Any], check: bool = True) -> subprocess.CompletedProcess[str]:
    return env.kubectl(
        "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}), check=check
    )


def _namespace(env: Environment, labels: dict[str, str] | None = None) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    _apply(env, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}})
    eventually(
        lambda: env.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode,
        lambda code: code == 0,
        what=f"the controller-manager creates the default ServiceAccount in {name}",
    )
    return name


def test_api_server_answers_and_enforces_rbac(env: Environment) -> None:
    assert env.kubectl("get", "--raw", "/readyz").stdout == "ok"
    namespace = _namespace(env)
    env.kubectl("create", "serviceaccount", "nobody", "-n", namespace)
    kubeconfig = env.service_account_kubeconfig(namespace, "nobody")

    denied = env.kubectl("get", "pods", "-n", namespace, kubeconfig=kubeconfig, check=False)
    assert denied.returncode != 0
    assert f'User "system:serviceaccount:{namespace}:nobody" cannot list resource "pods"' in denied.stderr

    env.kubectl("create", "role", "read-pods", "--verb=list", "--resource=pods", "-n", namespace)
    env.kubectl(
        "create",
        "rolebinding",
        "read-pods",
        "--role=read-pods",
        f"--serviceaccount={namespace}:nobody",
        "-n",
        namespace,
    )
    eventually(
        lambda: env.kubectl("get", "pods", "-n", namespace, kubeconfig=kubeconfig, check=False).returncode,
        lambda code: code == 0,
        what="the granted Role takes effect",
    )


def _pod(name: str, namespace: str, security: dict[str, Any], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {
            "automountServiceAccountToken": False,
            "containers": [
                {"name": "main", "image": ECHO_IMAGE, "imagePullPolicy": "Never", "securityContext": security}
            ],
        },
    }


_RESTRICTED = {
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def test_pod_security_restricted_rejects_a_privileged_pod(env: Environment) -> None:
    namespace = _namespace(env, {"pod-security.kubernetes.io/enforce": "restricted"})

    refused = _apply(env, _pod("privileged", namespace, {"privileged": True}), check=False)
    assert refused.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in refused.stderr
    assert "privileged" in refused.stderr

    _apply(env, _pod("hardened", namespace, _RESTRICTED))  # the same namespace admits a hardened Pod


def test_deleting_an_owner_garbage_collects_what_it_owns(env: Environment) -> None:
    namespace = _namespace(env)
    _apply(env, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner", "namespace": namespace}})
    uid = env.kubectl("get", "configmap", "owner", "-n", namespace, "-o", "jsonpath={.metadata.uid}").stdout
    owned = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "owned",
            "namespace": namespace,
            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}],
        },
    }
    _apply(env, owned)
    env.kubectl("delete", "configmap", "owner", "-n", namespace)
    eventually(
        lambda: env.kubectl("get", "configmap", "owned", "-n", namespace, check=False).returncode,
        lambda code: code != 0,
        what="the garbage collector deletes the owned ConfigMap",
    )


def _echo_app(namespace: str) -> list[dict[str, Any]]:
    """An echo Pod (a container on the real node, or a stand-in process) behind a Service."""
    pod = _pod("echo", namespace, _RESTRICTED, {STANDIN_POD_LABEL: "true", "app": "echo"})
    container = pod["spec"]["containers"][0]
    container["env"] = [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]
    container["args"] = ["--address", "$(POD_IP)", "--port", "8080", "--text", f"hello from {namespace}"]
    container["ports"] = [{"name": "http", "containerPort": 8080}]
    container["readinessProbe"] = {"httpGet": {"path": "/", "port": "http"}}
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "echo", "namespace": namespace},
        "spec": {"selector": {"app": "echo"}, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]},
    }
    return [pod, service]


def _ingress(namespace: str, name: str, host: str, **tweaks: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "ingressClassName": tweaks.get("ingress_class", "nginx"),
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": tweaks.get("path", "/.well-known/acme-challenge/token"),
                                "pathType": tweaks.get("path_type", "ImplementationSpecific"),
                                "backend": {
                                    "service": {
                                        "name": tweaks.get("service", "echo"),
                                        "port": {"number": tweaks.get("port", 80)},
                                    }
                                },
                            }
                        ]
                    },
                }
            ],
        },
    }


@pytest.fixture(scope="module")
def echo_namespace(env: Environment) -> str:
    namespace = _namespace(env)
    _apply(env, *_echo_app(namespace))
    env.kubectl("wait", "pod/echo", "-n", namespace, "--for=condition=Ready", "--timeout=60s")
    # Services that route somewhere wrong, for the failure cases below.
    wrong_selector = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "wrong-selector", "namespace": namespace},
        "spec": {"selector": {"app": "nothing"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    wrong_target = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "wrong-target", "namespace": namespace},
        "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": 9999}]},
    }
    _apply(env, wrong_selector, wrong_target)
    return namespace


def test_ingress_service_and_pod_answer_through_the_stand_in(env: Environment, echo_namespace: str) -> None:
    host = f"echo.{echo_namespace}.example.test"
    _apply(env, _ingress(echo_namespace, "echo", host))
    reply = eventually(
        lambda: http_get(env, host, "/.well-known/acme-challenge/token"),
        lambda r: r.status == 200,
        what="the echo Pod answers through Ingress and Service",
    )
    assert reply.body == f"hello from {echo_namespace}".encode()
    pod = json.loads(env.kubectl("get", "pod", "echo", "-n", echo_namespace, "-o", "json").stdout)
    assert pod["spec"]["nodeName"] == env.node_name
    assert ipaddress.ip_address(pod["status"]["podIP"]) in env.pod_network
    ingress = json.loads(env.kubectl("get", "ingress", "echo", "-n", echo_namespace, "-o", "json").stdout)
    assert ingress["status"]["loadBalancer"]["ingress"] == [{"ip": env.address}]


@pytest.mark.parametrize(
    ("tweaks", "request_host", "status", "hop"),
    [
        (
            {"service": "wrong-selector"},
            None,
            503,
            "endpoints: no Pod in {ns} matches the selector {{'app': 'nothing'}}",
        ),
        ({"port": 81}, None, 503, "service: Service {ns}/echo has no port 81"),
        ({"service": "wrong-target"}, None, 502, "pod: {ns}/echo at "),
        ({"service": "missing"}, None, 503, "service: Service {ns}/missing (from Ingress {ns}/{name}) does not exist"),
        ({"path": "/elsewhere"}, None, 404, "has no path matching /.well-known/acme-challenge/token"),
        ({"ingress_class": "traefik"}, None, 404, "has a rule for {host} but class 'traefik', not 'nginx'"),
        ({}, "other.example.test", 404, "no Ingress of class 'nginx' serves host other.example.test"),
        ({"path_type": "Exact"}, None, 404, "cannot be used with pathType Exact"),
    ],
    ids=[
        "service-selector",
        "service-port",
        "target-port",
        "service-name",
        "path",
        "ingress-class",
        "host",
        "strict-path",
    ],
)
def test_a_wrong_hop_fails_and_says_which(
    env: Environment, echo_namespace: str, tweaks: dict[str, Any], request_host: str | None, status: int, hop: str
) -> None:
    name = f"case-{uuid.uuid4().hex[:6]}"
    host = f"{name}.example.test"
    _apply(env, _ingress(echo_namespace, name, host, **tweaks))
    expected = hop.format(ns=echo_namespace, name=name, host=host)
    reply = eventually(
        lambda: http_get(env, request_host or host, "/.well-known/acme-challenge/token"),
        lambda r: r.status == status and expected in (r.hop or ""),
        what=f"a {status} naming the hop: {expected}",
    )
    assert reply.status == status


def test_deleting_a_pod_stops_its_process(env: Environment) -> None:
    namespace = _namespace(env)
    _apply(env, *_echo_app(namespace))
    env.kubectl("wait", "pod/echo", "-n", namespace, "--for=condition=Ready", "--timeout=60s")
    ip = env.kubectl("get", "pod", "echo", "-n", namespace, "-o", "jsonpath={.status.podIP}").stdout
    assert _processes_mentioning(f"--address {ip} ")

    env.kubectl("delete", "pod", "echo", "-n", namespace, "--timeout=30s")  # waits until the stand-in confirms

    assert _processes_mentioning(f"--address {ip} ") == []
    with socket.socket() as sock:
        assert sock.connect_ex((ip, 8080)) != 0


def test_pebble_serves_its_directory_over_https_with_the_run_ca_only(env: Environment) -> None:
    with urllib.request.urlopen(env.pebble_directory_url, context=env.ssl_context(), timeout=5) as response:
        directory = json.load(response)
    assert {"newNonce", "newAccount", "newOrder", "revokeCert", "keyChange", "renewalInfo"} <= directory.keys()
    assert {"default", "shortlived", "tenminutes", "ninetyseconds"} <= directory["meta"]["profiles"].keys()

    with pytest.raises(urllib.error.URLError) as refused:
        urllib.request.urlopen(env.pebble_directory_url, context=ssl.create_default_context(), timeout=5)
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)

    with urllib.request.urlopen(f"{env.pebble_management_url}/roots/0", context=env.ssl_context(), timeout=5) as root:
        assert root.read().startswith(b"-----BEGIN CERTIFICATE-----")


def test_names_resolve_to_the_environment_through_its_dns(env: Environment) -> None:
    assert resolve(env, f"{uuid.uuid4().hex[:8]}.example.test") == [env.address]


def _processes_mentioning(*needles: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                command = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(needle in command for needle in needles):
            found.append(f"{entry}: {command}")
    return found


def test_two_environments_run_side_by_side_and_leave_nothing_behind(env: Environment) -> None:
    with Environment() as second:
        assert second.address != env.address
        namespace = _namespace(second)
        assert env.kubectl("get", "namespace", namespace, check=False).returncode != 0
        assert resolve(second, "x.example.test") == [second.address]
        _apply(second, *_echo_app(namespace))  # a Pod process too, which must also be gone afterwards
        second.kubectl("wait", "pod/echo", "-n", namespace, "--for=condition=Ready", "--timeout=60s")
        pids = [child.process.pid for child in second.children]
        endpoints = [(second.address, second.apiserver_port), (second.address, second.http_port)]
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert _processes_mentioning(str(second.run_dir), second.pod_subnet_prefix + ".") == []
    for address, port in endpoints:
        with socket.socket() as sock:
            assert sock.connect_ex((address, port)) != 0, f"{address}:{port} still answers"
    assert env.kubectl("get", "--raw", "/readyz").stdout == "ok"
    second.remove_run_dir()
