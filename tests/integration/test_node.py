"""The environment's real node: kubelet, containerd and runc run Pods as containers from images built here."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certwright_env import Environment, nodehost
from certwright_env.base import REPO
from certwright_env.probes import eventually

RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def _needs_node(env: Environment) -> None:
    if env.node is None:
        pytest.skip(f"no real node here ({env.no_node_reason}); Pods run on the stand-in")


def _apply(env: Environment, *objects: dict[str, Any]) -> None:
    env.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))


@pytest.fixture
def namespace(env: Environment) -> Iterator[str]:
    _needs_node(env)
    name = f"node-{uuid.uuid4().hex[:8]}"
    env.kubectl("create", "namespace", name)
    env.kubectl("label", "namespace", name, "pod-security.kubernetes.io/enforce=restricted")
    eventually(
        lambda: env.kubectl("get", "serviceaccount", "default", "-n", name, check=False).returncode,
        lambda code: code == 0,
        what=f"the default ServiceAccount in {name}",
    )
    yield name
    env.kubectl("delete", "namespace", name, "--wait=false", check=False)


def _pod(name: str, image: str, command: list[str], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "terminationGracePeriodSeconds": 2,
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "main",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": command,
                    "securityContext": RESTRICTED,
                }
            ],
            **spec,
        },
    }


def _echo(env: Environment, name: str, text: str) -> list[dict[str, Any]]:
    pod = _pod(name, env.echo_image, ["python3", "/opt/echo.py"])
    container = pod["spec"]["containers"][0]
    container["env"] = [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]
    container["args"] = ["--address", "$(POD_IP)", "--port", "8080", "--text", text]
    container["ports"] = [{"name": "http", "containerPort": 8080}]
    container["readinessProbe"] = {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1}
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"name": "web", "port": 80, "targetPort": "http"}]},
    }
    return [pod, service]


def test_the_node_is_ready_and_runs_containerd(env: Environment) -> None:
    _needs_node(env)
    node = json.loads(env.kubectl("get", "node", env.node_name, "-o", "json").stdout)
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True"
    assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")
    assert {"type": "InternalIP", "address": nodehost.GATEWAY} in node["status"]["addresses"]


def test_a_pod_from_the_certwright_image_runs_as_the_kernel_enforces(env: Environment, namespace: str) -> None:
    pod = _pod("shell", env.certwright_image, ["sh", "-c", "echo started as $(id -u); exec sleep infinity"])
    _apply(env, {**pod, "metadata": {**pod["metadata"], "namespace": namespace}})
    env.kubectl("wait", "pod/shell", "-n", namespace, "--for=condition=Ready", "--timeout=60s")

    def run(*command: str) -> subprocess.CompletedProcess[str]:
        return env.kubectl("exec", "shell", "-n", namespace, "--", *command, check=False)

    assert run("id", "-u").stdout.strip() == "65532", "the image's non-root user"
    refused = run("touch", "/written")
    assert refused.returncode != 0
    assert "Read-only file system" in refused.stderr
    assert run("python", "-m", "certwright", "--version").stdout.startswith("certwright ")
    capabilities = run("grep", "CapEff", "/proc/self/status").stdout.split()[-1]
    assert int(capabilities, 16) == 0, "every capability dropped"
    logs = env.kubectl("logs", "shell", "-n", namespace).stdout
    assert "started as 65532" in logs


def test_a_pod_whose_image_is_not_here_fails_at_once(env: Environment, namespace: str) -> None:
    pod = _pod("missing", "localhost/no-such-image:1", ["true"])
    _apply(env, {**pod, "metadata": {**pod["metadata"], "namespace": namespace}})

    def waiting_reason() -> str:
        status = json.loads(env.kubectl("get", "pod", "missing", "-n", namespace, "-o", "json").stdout)["status"]
        states = status.get("containerStatuses") or [{}]
        return str(states[0].get("state", {}).get("waiting", {}).get("reason", ""))

    assert eventually(waiting_reason, lambda reason: reason == "ErrImageNeverPull", what="ErrImageNeverPull")


def test_services_are_real_from_the_host_and_from_pods(env: Environment, namespace: str) -> None:
    objects = [{**o, "metadata": {**o["metadata"], "namespace": namespace}} for o in _echo(env, "web", "hello")]
    _apply(env, *objects)
    env.kubectl("wait", "pod/web", "-n", namespace, "--for=condition=Ready", "--timeout=60s")
    cluster_ip = env.kubectl("get", "service", "web", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}").stdout
    pod_ip = env.kubectl("get", "pod", "web", "-n", namespace, "-o", "jsonpath={.status.podIP}").stdout
    slices = env.kubectl(
        "get", "endpointslices", "-n", namespace, "-l", "kubernetes.io/service-name=web", "-o", "json"
    ).stdout
    assert pod_ip in json.dumps(json.loads(slices)["items"][0]["endpoints"])

    def from_host() -> bytes | str:
        try:
            with urllib.request.urlopen(f"http://{cluster_ip}/", timeout=3) as response:
                body: bytes = response.read()
                return body
        except OSError as error:  # until kube-proxy has written the Service's rules (about a second)
            return str(error)

    assert eventually(from_host, lambda body: body == b"hello", what=f"the ClusterIP {cluster_ip} answers")
    # From a Pod: the Service (hairpin, through the Pod's own ClusterIP) and the API server through `kubernetes`.
    script = (
        "import json, os, ssl, urllib.request as u\n"
        f"print(u.urlopen('http://{cluster_ip}/', timeout=5).read().decode())\n"
        "sa = '/var/run/secrets/kubernetes.io/serviceaccount'\n"
        "c = ssl.create_default_context(cafile=sa + '/ca.crt')\n"
        "e = os.environ\n"
        "url = 'https://%s:%s/version' % (e['KUBERNETES_SERVICE_HOST'], e['KUBERNETES_SERVICE_PORT'])\n"
        "r = u.Request(url, headers={'Authorization': 'Bearer ' + open(sa + '/token').read()})\n"
        "print(json.load(u.urlopen(r, context=c, timeout=5))['gitVersion'])\n"
    )
    reply = env.kubectl("exec", "web", "-n", namespace, "--", "python3", "-c", script, check=False)
    assert reply.returncode == 0, reply.stderr
    assert reply.stdout.split() == ["hello", "v1.35.4"]


# -- leaving the machine as found: these take the machine's one node themselves, so they run first


def machine_state() -> dict[str, Any]:
    """What a node could change, in a form to compare before and after."""

    def run(*command: str) -> str:
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout

    def rules(save: str) -> list[str]:
        kept, table, lines = [], "", []
        for line in save.splitlines():
            if line.startswith("*"):
                table, lines = line, []
            elif line.startswith(":"):
                name, policy = line[1:].split()[:2]
                if policy != "ACCEPT" or name not in ("INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"):
                    lines.append(f"{table} chain {name} {policy}")
            elif line.startswith("-A"):
                lines.append(f"{table} {line}")
            elif line == "COMMIT":
                kept += lines
        return kept

    cgroups = sorted(str(p) for h in Path("/sys/fs/cgroup").iterdir() if h.is_dir() for p in h.iterdir() if p.is_dir())
    mounts = sorted(line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines())
    return {
        "sysctls": {name: nodehost.read_sysctl(name) for name in nodehost.SYSCTLS},
        "iptables": rules(run("iptables-save")),
        "ip6tables": rules(run("ip6tables-save")),
        "links": sorted(link["ifname"] for link in json.loads(run("ip", "-j", "link", "show") or "[]")),
        "routes": run("ip", "route", "show"),
        "mounts": [m for m in mounts if not m.startswith("/tmp/pytest")],
        "cgroups": cgroups,
        "paths": {path: os.path.lexists(path) for path in nodehost.FIXED_PATHS},
        "nfacct": run("nfacct", "list"),
        "record": nodehost.RECORD.exists(),
    }


def _absent(state: dict[str, Any]) -> list[str]:
    return [path for path, present in state["paths"].items() if not present]


def _assert_as_found(before: dict[str, Any]) -> None:
    after = machine_state()
    changed = {key: (before[key], after[key]) for key in before if before[key] != after[key]}
    assert changed == {}


@pytest.mark.owns_node
def test_a_stopped_node_leaves_the_machine_as_found() -> None:
    before = machine_state()
    with Environment() as env:
        _needs_node(env)
        assert machine_state() != before, "the node changed the machine, as expected"
        namespace = f"node-{uuid.uuid4().hex[:8]}"
        env.kubectl("create", "namespace", namespace)
        _apply(env, *[{**o, "metadata": {**o["metadata"], "namespace": namespace}} for o in _echo(env, "web", "x")])
        env.kubectl("wait", "pod/web", "-n", namespace, "--for=condition=Ready", "--timeout=60s")
    _assert_as_found(before)
    assert nodehost.leftovers(_absent(before)) == []
    env.remove_run_dir()


KILLED_ENVIRONMENT = """
import json, sys, time
from certwright_env import Environment
env = Environment()
env.start()
namespace = "killed"
env.kubectl("create", "namespace", namespace)
pod, service = json.loads(sys.argv[1])
for item in (pod, service):
    item["metadata"]["namespace"] = namespace
env.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": [pod, service]}))
env.kubectl("wait", "pod/web", "-n", namespace, "--for=condition=Ready", "--timeout=60s")
print(json.dumps({"node": env.node is not None, "run_dir": str(env.run_dir)}), flush=True)
time.sleep(600)
"""


@pytest.mark.owns_node
def test_a_killed_environment_is_cleared_by_the_next_start() -> None:
    before = machine_state()
    with Environment() as probe:  # the echo image's name, and that a node can run here at all
        _needs_node(probe)
        objects = _echo(probe, "web", "killed")
    probe.remove_run_dir()
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_ENVIRONMENT, json.dumps(objects)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "testenv")},
    )
    assert child.stdout is not None
    started = json.loads(child.stdout.readline())
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    child.stdout.close()
    time.sleep(1)
    left = nodehost.leftovers(_absent(before))
    assert any("cgroup" in item for item in left), f"a killed environment leaves its containers running: {left}"

    with Environment() as env:  # clears what the killed one left, then runs as usual
        _needs_node(env)
    _assert_as_found(before)
    assert nodehost.leftovers(_absent(before)) == []
    assert not Path(started["run_dir"], "node").exists()
    env.remove_run_dir()
    shutil.rmtree(started["run_dir"])
