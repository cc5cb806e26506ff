"""A real node for the environment: containerd and runc run Pods as containers, kube-proxy makes Services real.

containerd (Debian's), the kubelet and kube-proxy (built from k8s.io/kubernetes like the control plane)
run from the environment's folder with their own configuration; the node's IP is the gateway of a
bridge the environment creates (``nodehost``), on which the API server also listens so that Pods
reach it through the ``kubernetes`` Service. Images come from this machine, never a registry: the
certwright image from the repository's Dockerfile, the echo test image and a static pause program as
the sandbox image, imported into containerd at start. Three settings make it work on a cgroup v1 host
whose root lacks CAP_SYS_RESOURCE: ``failCgroupV1: false`` (kubelet), ``restrict_oom_score_adj``
(containerd, else runc cannot start a sandbox) and a non-loopback node IP.

``Node.claim`` takes the machine's one node, or says in one line why the stand-in kubelet runs
instead. Whatever the node changes on the machine is recorded first and undone when it stops, or by
the next node to start if this process was killed.
"""

from __future__ import annotations

import json
import subprocess
import threading
import urllib.request
from pathlib import Path
from typing import IO, TYPE_CHECKING

import certwright

from . import images, nodehost, processes
from .base import say
from .binaries import cache_root, ensure_node, ensure_pause
from .tlsfiles import Pair

if TYPE_CHECKING:
    from .environment import Environment

NODE_NAME = "certwright-node"
# The reference certwright's own manifests and the operator's --solver-image default name, so that
# what a user installs runs here unchanged (the node has it; nothing is pulled).
CERTWRIGHT_IMAGE = f"ghcr.io/certwright/certwright:{certwright.__version__}"


class NodeError(RuntimeError):
    """The node could not start; the message names the step."""


class Node:
    """containerd, kubelet and kube-proxy of one environment, with the machine's node lock held."""

    def __init__(self, env: Environment, lock: IO[str]) -> None:
        self.env = env
        self._lock: IO[str] | None = lock
        self.folder = env.run_dir / "node"
        self.record: nodehost.Record | None = None
        self.binaries = ensure_node()
        self.address = nodehost.GATEWAY
        self.socket = self.folder / "containerd.sock"
        # Images and their unpacked layers outlive the run, like the binaries: unpacking certwright's
        # image takes about ten seconds, and only a changed layer needs it again. Containers do not.
        self.store = cache_root().parent / "node" / "containerd"
        self._images: dict[str, images.Image] = {}
        self._image_error: BaseException | None = None
        self._builder: threading.Thread | None = None

    @classmethod
    def claim(cls, env: Environment) -> Node | str:
        """The machine's real node for ``env``, or why not (also said) when the stand-in kubelet runs instead."""
        reason = nodehost.unavailable() or images.available()
        lock = None
        if reason is None:
            lock, reason = nodehost.claim()
        if reason is None and lock is not None:
            leftover = nodehost.Record.load()
            if leftover is not None:
                say(f"clearing what an earlier node left on this machine (pid {leftover.owner}, {leftover.folder})")
                problems = nodehost.clear(leftover)
                if problems:
                    lock.close()
                    raise NodeError("could not clear an earlier node's leftovers: " + "; ".join(problems))
            reason = nodehost.conflicts()
            if reason is not None:
                lock.close()
        if reason is not None:
            say(f"no real node ({reason}); Pods run on the stand-in kubelet")
            return reason
        assert lock is not None
        return cls(env, lock)

    # -- start ---------------------------------------------------------------------------------

    def build_images(self) -> None:
        """Build (or find cached) the images in the background while the control plane starts."""

        def work() -> None:
            try:
                self._images = {
                    "pause": images.pause_image(ensure_pause()),
                    "certwright": images.build(),
                    "echo": images.build_echo(),
                }
            except BaseException as error:  # noqa: BLE001 - re-raised in the starting thread
                self._image_error = error

        self._builder = threading.Thread(target=work, name="images", daemon=True)
        self._builder.start()

    def prepare_host(self) -> None:
        """Write down the machine as found, then create the bridge the API server will listen on."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.record = nodehost.record(self.folder, self.binaries["kube-proxy"])
        nodehost.prepare()

    def write_pki(self) -> None:
        ca = self.env.ca
        self.kubelet_serving = ca.serving("kubelet", [self.address, NODE_NAME])
        self.kubelet_client = ca.client("kubelet-client", f"system:node:{NODE_NAME}", "system:nodes")
        self.apiserver_kubelet_client = ca.client(
            "apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters"
        )
        self.kube_proxy_client = ca.client("kube-proxy-client", "system:kube-proxy")

    def start_containerd(self) -> None:
        assert self._builder is not None
        self._builder.join()
        if self._image_error is not None:
            raise NodeError(f"building the node's images failed: {self._image_error}") from self._image_error
        config = self._containerd_config()
        child = self.env.spawn("containerd", ["containerd", "--config", config])
        processes.wait_until(child, lambda: self._ctr("version", check=False).returncode == 0, 30)
        self._forget_containers()
        present = set(self._ctr("images", "list", "--quiet").stdout.split())
        imported = self.store.parent / "imported.json"
        known = json.loads(imported.read_text()) if imported.exists() else {}
        for image in self._images.values():
            if image.reference in present and known.get(image.reference) == image.archive.name:
                continue
            self._ctr("images", "import", str(image.archive))  # and unpacked, so a first Pod starts at once
            known[image.reference] = image.archive.name
            imported.write_text(json.dumps(known, indent=2))
        self._ctr("images", "tag", "--force", images.IMAGE, CERTWRIGHT_IMAGE)

    def _forget_containers(self) -> None:
        """The store keeps images only: containers and their writable layers from earlier runs go."""
        for container in self._ctr("containers", "list", "--quiet").stdout.split():
            self._ctr("containers", "delete", container, check=False)
        listing = self._ctr("snapshots", "--snapshotter", "overlayfs", "list").stdout.splitlines()[1:]
        for words in (line.split() for line in listing):
            if words and words[-1] == "Active":  # KEY [PARENT] KIND
                self._ctr("snapshots", "--snapshotter", "overlayfs", "remove", words[0], check=False)

    def start_kubelet(self) -> None:
        kubeconfig = self._kubeconfig("kubelet", self.kubelet_client)
        config = self.folder / "kubelet.json"
        config.write_text(json.dumps(self._kubelet_config(), indent=2))
        child = self.env.spawn(
            "kubelet",
            [
                self.binaries["kubelet"],
                f"--config={config}",
                f"--kubeconfig={kubeconfig}",
                f"--root-dir={self.folder / 'kubelet'}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={self.address}",
                "--v=1",
            ],
        )
        processes.wait_until(child, self._node_ready, 60)

    def start_kube_proxy(self) -> None:
        kubeconfig = self._kubeconfig("kube-proxy", self.kube_proxy_client)
        health = processes.free_port(self.env.loopback)
        metrics = processes.free_port(self.env.loopback)
        child = self.env.spawn(
            "kube-proxy",
            [
                self.binaries["kube-proxy"],
                "--proxy-mode=iptables",
                f"--kubeconfig={kubeconfig}",
                f"--hostname-override={NODE_NAME}",
                f"--cluster-cidr={nodehost.SUBNET}",
                f"--healthz-bind-address={self.env.loopback}:{health}",
                f"--metrics-bind-address={self.env.loopback}:{metrics}",
                # Leave the machine's conntrack limits and route_localnet alone; NodePorts on the node IP only.
                "--conntrack-max-per-core=0",
                "--conntrack-tcp-timeout-established=0",
                "--conntrack-tcp-timeout-close-wait=0",
                f"--nodeport-addresses={self.address}/32",
                "--oom-score-adj=0",
                "--v=1",
            ],
        )
        processes.wait_until(child, lambda: _get_ok(f"http://{self.env.loopback}:{health}/healthz"), 30)

    # -- stop ----------------------------------------------------------------------------------

    def release(self) -> list[str]:
        """Undo what the node changed on the machine (its processes already stopped) and free the lock."""
        problems: list[str] = []
        if self.record is not None:
            problems = nodehost.clear(self.record)
            self.record = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        if problems:
            say("the node left something behind: " + "; ".join(problems))
        return problems

    # -- helpers ---------------------------------------------------------------------------------

    @property
    def certwright_image(self) -> str:
        return CERTWRIGHT_IMAGE

    @property
    def echo_image(self) -> str:
        return images.ECHO_IMAGE

    def runtime_version(self) -> str:
        return self._ctr("version").stdout.split("Server:", 1)[-1].split("Version:", 1)[-1].split()[0]

    def _ctr(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            ["ctr", "--address", str(self.socket), "--namespace", "k8s.io", *arguments],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and completed.returncode != 0:
            raise NodeError(f"ctr {' '.join(arguments)} failed: {completed.stderr.strip()}")
        return completed

    def _node_ready(self) -> bool:
        completed = self.env.kubectl("get", "node", NODE_NAME, "-o", "json", check=False)
        if completed.returncode != 0:
            return False
        conditions = json.loads(completed.stdout)["status"].get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def _kubeconfig(self, name: str, pair: Pair) -> Path:
        return self.env.write_kubeconfig(
            self.folder / f"kubeconfig-{name}", {"client-certificate": str(pair.cert), "client-key": str(pair.key)}
        )

    def _containerd_config(self) -> Path:
        cni = self.folder / "cni"
        (cni / "net.d").mkdir(parents=True, exist_ok=True)
        conflist = {
            "cniVersion": "1.0.0",
            "name": "certwright",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": nodehost.BRIDGE,
                    "isGateway": True,
                    "ipMasq": False,  # Pods talk to this machine only
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": nodehost.SUBNET, "gateway": nodehost.GATEWAY}]],
                        # As in any cluster; the fence (nodehost.prepare) keeps it on this machine.
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(cni / "ipam"),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }
        (cni / "net.d" / "10-certwright.conflist").write_text(json.dumps(conflist, indent=2))
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        text = f"""version = 2
root = "{self.store}"
state = "{self.folder / "containerd" / "state"}"
disabled_plugins = [
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
]

[grpc]
  address = "{self.socket}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{self.folder / "containerd" / "opt"}"

[{cri}]
  sandbox_image = "{self._images["pause"].reference}"
  # This machine's root lacks CAP_SYS_RESOURCE: without the clamp runc cannot set a sandbox's
  # oom_score_adj and every sandbox fails ("can't get final child's PID from pipe: EOF").
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = "{self.folder / "runc"}"

[{cri}.cni]
  bin_dir = "{nodehost.CNI_PLUGINS}"
  conf_dir = "{cni / "net.d"}"
"""
        path = self.folder / "containerd.toml"
        path.write_text(text)
        return path

    def _kubelet_config(self) -> dict[str, object]:
        return {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "address": self.address,
            "port": 10250,
            "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1",
            "healthzPort": 0,
            "tlsCertFile": str(self.kubelet_serving.cert),
            "tlsPrivateKeyFile": str(self.kubelet_serving.key),
            "authentication": {
                "anonymous": {"enabled": False},
                "webhook": {"enabled": True},
                "x509": {"clientCAFile": str(self.env.ca.cert_file)},
            },
            "authorization": {"mode": "Webhook"},
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            "cgroupDriver": "cgroupfs",
            "failSwapOn": False,
            "failCgroupV1": False,  # this machine's cgroups are v1, which v1.35 refuses by default
            "podLogsDir": str(self.folder / "pod-logs"),
            "volumePluginDir": str(self.folder / "volume-plugins"),
            "imageGCHighThresholdPercent": 100,  # the images were imported, not pulled: keep them
            "imageGCLowThresholdPercent": 99,
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
            "maxPods": 250,
            "serializeImagePulls": False,
            "registerNode": True,
            "resolvConf": "/etc/resolv.conf",
        }


def _get_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own URL
        return bool(response.status == 200)
