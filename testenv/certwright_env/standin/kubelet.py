"""The kubelet half of the stand-in: runs selected Pods' containers as local processes.

For each Pod that matches the stand-in's label selector it does what the scheduler and a kubelet
would: binds the Pod to the stand-in's Node (``pods/binding``), gives it a loopback IP of its own,
starts each container's command with the image mapped to a local command, reports the Pod Running
through the status subresource, probes readiness (``httpGet`` or ``tcpSocket``) and reports Ready,
and on deletion stops the processes and confirms the deletion (grace period 0), as a kubelet does.
What it cannot honestly do (images it has no mapping for, init containers, volumes other than
emptyDir, environment from Secrets) it refuses, reporting the reason in the Pod's status.
"""

from __future__ import annotations

import datetime
import logging
import os
import queue
import re
import socket
import threading
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client

from ..processes import Child, spawn
from .watchcache import Obj, WatchCache

log = logging.getLogger(__name__)
_PATCH = "application/strategic-merge-patch+json"
_FIELD_REFS = {
    "metadata.name": lambda pod, ip, host: pod["metadata"]["name"],
    "metadata.namespace": lambda pod, ip, host: pod["metadata"]["namespace"],
    "metadata.uid": lambda pod, ip, host: pod["metadata"]["uid"],
    "spec.nodeName": lambda pod, ip, host: pod["spec"].get("nodeName", ""),
    "spec.serviceAccountName": lambda pod, ip, host: pod["spec"].get("serviceAccountName", ""),
    "status.podIP": lambda pod, ip, host: ip,
    "status.podIPs": lambda pod, ip, host: ip,
    "status.hostIP": lambda pod, ip, host: host,
}


class Refused(Exception):
    """The stand-in cannot run this Pod honestly; the message says why."""


@dataclass
class Runtime:
    """The processes of one running Pod."""

    uid: str
    ip: str
    children: list[Child] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)


def image_repository(image: str) -> str:
    """``registry/name:tag@digest`` → ``registry/name``."""
    name = image.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    last = last.split(":", 1)[0]
    return f"{head}/{last}" if head else last


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion in command and args; ``$$`` escapes."""
    return re.sub(
        r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
        lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)),
        text,
    )


class Kubelet:
    """Runs the Pods of one Node."""

    def __init__(self, api: client.CoreV1Api, pods: WatchCache, config: dict[str, Any]) -> None:
        self.api = api
        self.pods = pods
        self.node = config["node_name"]
        self.kubelet_version = config.get("kubernetes_version", "v0.0.0")
        self.host_ip = config["address"]
        self.prefix = config["pod_subnet_prefix"]
        self.images: dict[str, Any] = config.get("images") or {}
        self.log_dir = Path(config["log_dir"])
        self.work_dir = Path(config["log_dir"]).parent / "pods"
        self.pause_file = Path(config["log_dir"]).parent / "stand-in.pause-pods"
        self.runtimes: dict[str, Runtime] = {}
        self.used_ips: set[str] = set()
        self.queue: queue.Queue[str] = queue.Queue()
        pods.add_listener(lambda kind, pod: self.queue.put(_key(pod)))

    def paused(self) -> bool:
        """Tests pause the starting of Pods (as a slow node would) by creating this file."""
        return self.pause_file.exists()

    def register_node(self) -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.node,
                "labels": {"kubernetes.io/hostname": self.node, "kubernetes.io/os": "linux"},
            },
            "status": {
                "addresses": [
                    {"type": "InternalIP", "address": self.host_ip},
                    {"type": "Hostname", "address": self.node},
                ],
                "capacity": {"cpu": "2", "memory": "24Gi", "pods": "10000"},
                "allocatable": {"cpu": "2", "memory": "24Gi", "pods": "10000"},
                "conditions": [
                    _condition("Ready", True, "StandInReady", "the certwright cluster stand-in runs this node's Pods")
                ],
            },
        }
        try:
            self.api.create_node(body, _preload_content=False)
        except client.ApiException as error:
            if error.status != 409:
                raise

    def start(self) -> None:
        threading.Thread(target=self._work, name="kubelet", daemon=True).start()

    def stop_all(self) -> None:
        for runtime in list(self.runtimes.values()):
            self._stop(runtime)

    def _work(self) -> None:
        while True:
            key = self.queue.get()
            try:
                self._reconcile(key)
            except Exception:
                log.exception("pod %s: reconcile failed", key)

    def _reconcile(self, key: str) -> None:
        pod = self.pods.get(key)
        runtime = self.runtimes.get(key)
        if runtime and (pod is None or pod["metadata"]["uid"] != runtime.uid):
            self._stop(runtime)
            del self.runtimes[key]
            runtime = None
        if pod is None:
            return
        node = pod["spec"].get("nodeName")
        if node and node != self.node:
            return
        if pod["metadata"].get("deletionTimestamp"):
            if runtime:
                self._stop(runtime)
                del self.runtimes[key]
            self._confirm_deletion(pod)
            return
        if self.paused():
            threading.Timer(0.2, self.queue.put, [key]).start()  # look again once resumed
            return
        if not node:
            self._bind(pod)
            return
        if runtime or pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return
        self._run(key, pod)

    def _bind(self, pod: Obj) -> None:
        meta = pod["metadata"]
        body = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"]},
            "target": {"apiVersion": "v1", "kind": "Node", "name": self.node},
        }
        self.api.create_namespaced_pod_binding(meta["name"], meta["namespace"], body, _preload_content=False)
        log.info("pod %s: bound to node %s", _key(pod), self.node)

    def _confirm_deletion(self, pod: Obj) -> None:
        meta = pod["metadata"]
        try:
            self.api.delete_namespaced_pod(
                meta["name"],
                meta["namespace"],
                # In the body: with a body, the API server ignores the query parameter.
                body={"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}},
                _preload_content=False,
            )
        except client.ApiException as error:
            if error.status not in (404, 409):
                raise
        log.info("pod %s: stopped and deleted", _key(pod))

    def _run(self, key: str, pod: Obj) -> None:
        ip = self._allocate_ip()
        runtime = Runtime(uid=pod["metadata"]["uid"], ip=ip)
        self.runtimes[key] = runtime
        try:
            for container in pod["spec"]["containers"]:
                runtime.children.append(self._start_container(pod, container, ip))
        except Refused as refusal:
            log.warning("pod %s: refused: %s", key, refusal)
            self._stop(runtime)
            self._patch_status(pod, _refused_status(pod, str(refusal)))
            return
        probes = [c.get("readinessProbe") for c in pod["spec"]["containers"]]
        self._patch_status(pod, self._running_status(pod, ip, ready=not any(probes)))
        log.info("pod %s: running at %s", key, ip)
        for child in runtime.children:
            threading.Thread(target=self._watch_exit, args=(key, pod, runtime, child), daemon=True).start()
        if any(probes):
            threading.Thread(target=self._probe_until_ready, args=(key, pod, runtime), daemon=True).start()

    def _start_container(self, pod: Obj, container: Obj, ip: str) -> Child:
        if pod["spec"].get("initContainers"):
            raise Refused("init containers are not supported by the stand-in")
        for volume in pod["spec"].get("volumes") or []:
            if "emptyDir" not in volume and "projected" not in volume:
                raise Refused(f"volume {volume.get('name')} is not an emptyDir; the stand-in mounts none")
        image = image_repository(container["image"])
        mapping = self.images.get(image)
        if mapping is None:
            raise Refused(f"image {container['image']} is not mapped to a local command (map: {sorted(self.images)})")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOSTNAME": pod["metadata"]["name"],
            **mapping.get("env", {}),
        }
        for variable in container.get("env") or []:
            env[variable["name"]] = self._env_value(pod, variable, ip, env)
        if container.get("command"):
            executable = container["command"][0]
            local = (mapping.get("executables") or {}).get(executable)
            if local is None:
                raise Refused(f"image {image} has no mapped executable {executable!r}")
            argv = [local, *container["command"][1:], *(container.get("args") or [])]
        else:
            argv = [*mapping["entrypoint"], *(container.get("args") or mapping.get("cmd") or [])]
        argv = [expand(arg, env) for arg in argv]
        workdir = self.work_dir / f"{pod['metadata']['namespace']}_{pod['metadata']['name']}"
        workdir.mkdir(parents=True, exist_ok=True)
        name = f"pod-{pod['metadata']['namespace']}-{pod['metadata']['name']}-{container['name']}"
        return spawn(name, argv, self.log_dir, env=env, cwd=workdir)

    def _env_value(self, pod: Obj, variable: Obj, ip: str, env: dict[str, str]) -> str:
        if "value" in variable:
            return expand(variable["value"], env)
        field_ref = (variable.get("valueFrom") or {}).get("fieldRef")
        if field_ref and field_ref.get("fieldPath") in _FIELD_REFS:
            return str(_FIELD_REFS[field_ref["fieldPath"]](pod, ip, self.host_ip))
        raise Refused(f"env {variable['name']}: only values and fieldRefs {sorted(_FIELD_REFS)} are supported")

    def _allocate_ip(self) -> str:
        for third in range(1, 256):
            for fourth in range(1, 255):
                candidate = f"{self.prefix}.{third}.{fourth}"
                if candidate not in self.used_ips:
                    self.used_ips.add(candidate)
                    return candidate
        raise RuntimeError("no free Pod IP")

    def _stop(self, runtime: Runtime) -> None:
        runtime.stopping.set()
        for child in runtime.children:
            child.stop(grace=5)
        self.used_ips.discard(runtime.ip)

    def _probe_until_ready(self, key: str, pod: Obj, runtime: Runtime) -> None:
        probes = [c["readinessProbe"] for c in pod["spec"]["containers"] if c.get("readinessProbe")]
        delay = max(p.get("initialDelaySeconds", 0) for p in probes)
        if runtime.stopping.wait(delay):
            return
        while not runtime.stopping.is_set():
            if all(_probe(probe, pod, runtime.ip) for probe in probes):
                self._patch_status(pod, self._running_status(pod, runtime.ip, ready=True))
                log.info("pod %s: ready", key)
                return
            runtime.stopping.wait(0.1)

    def _watch_exit(self, key: str, pod: Obj, runtime: Runtime, child: Child) -> None:
        code = child.process.wait()
        if runtime.stopping.is_set():
            return
        log.warning("pod %s: container process %s exited with %d (log: %s)", key, child.name, code, child.log)
        status = self._running_status(pod, runtime.ip, ready=False)
        status["phase"] = "Failed"
        for container_status in status["containerStatuses"]:
            container_status["state"] = {"terminated": {"exitCode": code, "reason": "Error" if code else "Completed"}}
        self._patch_status(pod, status)

    def _running_status(self, pod: Obj, ip: str, *, ready: bool) -> dict[str, Any]:
        now = _now()
        return {
            "phase": "Running",
            "hostIP": self.host_ip,
            "hostIPs": [{"ip": self.host_ip}],
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "startTime": now,
            "conditions": [
                _condition("PodScheduled", True),
                _condition("Initialized", True),
                _condition("ContainersReady", ready),
                _condition("Ready", ready),
            ],
            "containerStatuses": [
                {
                    "name": c["name"],
                    "image": c["image"],
                    "imageID": "",
                    "ready": ready,
                    "started": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": now}},
                }
                for c in pod["spec"]["containers"]
            ],
        }

    def _patch_status(self, pod: Obj, status: dict[str, Any]) -> None:
        meta = pod["metadata"]
        try:
            self.api.patch_namespaced_pod_status(
                meta["name"], meta["namespace"], {"status": status}, _content_type=_PATCH, _preload_content=False
            )
        except client.ApiException as error:
            if error.status != 404:
                raise


def _probe(probe: Obj, pod: Obj, ip: str) -> bool:
    if "httpGet" in probe:
        action = probe["httpGet"]
        port = _named_port(pod, action["port"])
        url = f"{action.get('scheme', 'HTTP').lower()}://{action.get('host') or ip}:{port}{action.get('path', '/')}"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - the Pod's own address
                return 200 <= response.status < 400
        except OSError:
            return False
    if "tcpSocket" in probe:
        with socket.socket() as sock:
            sock.settimeout(1)
            return sock.connect_ex((ip, _named_port(pod, probe["tcpSocket"]["port"]))) == 0
    log.warning("pod %s: only httpGet and tcpSocket readiness probes are supported", _key(pod))
    return False


def _named_port(pod: Obj, port: int | str) -> int:
    if isinstance(port, int):
        return port
    for container in pod["spec"]["containers"]:
        for declared in container.get("ports") or []:
            if declared.get("name") == port:
                number: int = declared["containerPort"]
                return number
    return int(port)


def _refused_status(pod: Obj, message: str) -> dict[str, Any]:
    return {
        "phase": "Pending",
        "conditions": [_condition("PodScheduled", True), _condition("Ready", False, "StandInRefused", message)],
        "containerStatuses": [
            {
                "name": c["name"],
                "image": c["image"],
                "imageID": "",
                "ready": False,
                "restartCount": 0,
                "state": {"waiting": {"reason": "StandInRefused", "message": message}},
            }
            for c in pod["spec"]["containers"]
        ],
    }


def _condition(kind: str, ok: bool, reason: str | None = None, message: str | None = None) -> dict[str, Any]:
    condition: dict[str, Any] = {"type": kind, "status": "True" if ok else "False", "lastTransitionTime": _now()}
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _key(pod: Obj) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
