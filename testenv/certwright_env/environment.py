"""One local environment: etcd, kube-apiserver, kube-controller-manager, BIND, Pebble, the stand-in.

BIND is the environment's DNS (Pebble resolves through it): every name answers with the environment's
address, and a few zones take signed RFC 2136 updates, for DNS-01 (see bind.py).

Every environment takes a loopback address of its own (127.A.0.1, with the rest of 127.A/16 for the
stand-in's Pods) and free ports on it, so several run side by side; its files live in one run folder
(PKI, kubeconfigs, configs, one log per component). ``Environment`` is a context manager: leaving it,
normally or through an exception, stops everything it started.
"""

from __future__ import annotations

import ipaddress
import json
import os
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import gatewayapi, images, nodehost, processes, tlsfiles
from .base import REPO, Stack
from .binaries import KUBERNETES_VERSION, Binaries, ensure_all
from .bind import Bind
from .node import NODE_NAME, Node
from .pebble import PebbleParts

SERVICE_CLUSTER_IP_RANGE = nodehost.SERVICE_SUBNET
# Without a real node the endpoint controllers are off too: the stand-in's Pod IPs are loopback
# addresses, which EndpointSlices refuse, so it resolves Service selectors to Pods itself. Node
# lifecycle is off there as well (the stand-in's Node posts no heartbeats); a real node needs it to
# lift the not-ready taint the kubelet registers with.
STANDIN_DISABLED_CONTROLLERS = ("endpoint", "endpointslice", "nodelifecycle")
DISABLED_CONTROLLERS = (
    "endpointslicemirroring",
    "nodeipam",
    "cloud-node-lifecycle",
    "service-lb-controller",
    "route",
    "persistentvolume-binder",
    "attachdetach",
)
# The stand-in runs Pods carrying this label: the one certwright puts on its solver Pods.
STANDIN_POD_LABEL = "certwright.dev/solver"
ECHO_IMAGE = images.ECHO_IMAGE


class KubectlError(RuntimeError):
    """kubectl failed; the message carries its stderr."""


class Environment(Stack):
    """A running local control plane with Pebble and the cluster stand-in."""

    def __init__(
        self,
        run_dir: Path | None = None,
        *,
        binaries: Binaries | None = None,
        ingress_class: str = "nginx",
        pod_selector: str = STANDIN_POD_LABEL,
        image_map: dict[str, Any] | None = None,
        pebble_env: dict[str, str] | None = None,
        pebble_config: dict[str, Any] | None = None,
        real_node: bool = True,
        gateway_api: bool = True,
    ) -> None:
        super().__init__(run_dir, binaries=binaries)
        self.ingress_class = ingress_class
        self.pod_selector = pod_selector
        self.image_map = image_map or default_image_map()
        self.pebble_env = pebble_env
        self.pebble_config = pebble_config
        self.real_node = real_node
        self.gateway_api = gateway_api
        self.node: Node | None = None
        self.no_node_reason = ""
        self.bind = Bind(self)

    def _start_components(self) -> None:
        """Start every component in dependency order, waiting until each one is ready."""
        self.binaries = self.binaries or ensure_all()
        claimed = Node.claim(self) if self.real_node else "not asked for"
        if isinstance(claimed, Node):
            self.node = claimed
            # Pebble, BIND and the ingress answer on the node's bridge, where Pods reach them too
            # (an operator running in the cluster); the control plane stays on the loopback address.
            self.address = claimed.address
        else:
            self.no_node_reason = claimed
        if self.node is not None:
            self.node.build_images()
            self.timed("bridge", self.node.prepare_host)
        self._write_pki()
        self.pebble = PebbleParts(
            self,
            self.binaries.pebble.parent,
            serve_http01=False,
            pebble_env=self.pebble_env,
            pebble_config=self.pebble_config,
        )
        self.timed("etcd", self._start_etcd)
        self.timed("kube-apiserver", self._start_apiserver)
        controller_manager_ready = self._start_controller_manager()
        gateway_api_ready = _in_background(self.install_gateway_api if self.gateway_api else lambda: None)
        self.timed("dns", self.bind.start)
        self.pebble.nameserver = self.bind.nameserver  # Pebble's -dnsserver: BIND, not challtestsrv
        self.timed("pebble", self.pebble.start_pebble)
        if self.node is not None:
            self.timed("kube-scheduler", self._start_scheduler)
            self.timed("containerd", self.node.start_containerd)
            self.timed("kubelet", self.node.start_kubelet)
            self.timed("kube-proxy", self.node.start_kube_proxy)
        self.timed("gateway-api", gateway_api_ready)  # (the rest of its time passed beside the steps above)
        self.timed("stand-in", self._start_standin)
        self.timed("kube-controller-manager", controller_manager_ready)

    def stop(self) -> None:
        self.bind.release()  # before the stack gives up its address, so no newer holder loses its alias
        super().stop()
        if self.node is not None:
            self.node.release()
            self.node = None

    @property
    def apiserver_address(self) -> str:
        """Where the API server listens: the node's IP with a real node (Pods reach it), else ours."""
        return self.node.address if self.node is not None else self.address

    @property
    def certwright_image(self) -> str:
        """The certwright image as Pods name it: on the real node, or mapped by the stand-in."""
        return self.node.certwright_image if self.node is not None else "ghcr.io/certwright/certwright:dev"

    @property
    def echo_image(self) -> str:
        return ECHO_IMAGE

    @property
    def node_name(self) -> str:
        """The Node that runs this environment's Pods."""
        return NODE_NAME if self.node is not None else self._standin_node

    @property
    def pod_network(self) -> ipaddress.IPv4Network:
        """Where Pod IPs come from: the node's bridge, or the stand-in's loopback range."""
        if self.node is not None:
            return ipaddress.IPv4Network(nodehost.SUBNET)
        return ipaddress.IPv4Network(f"{self.pod_subnet_prefix}.0.0/16")

    @property
    def nameserver(self) -> str:
        """BIND's ``address:port``: every name resolves there, as Pebble and the operator's self-check see it."""
        return self.bind.nameserver

    @property
    def pebble_directory_url(self) -> str:
        return self.pebble.directory_url

    @property
    def pebble_management_url(self) -> str:
        return self.pebble.management_url

    @property
    def pebble_ca_bundle(self) -> Path:
        return self.pebble.ca_bundle

    @property
    def pod_subnet_prefix(self) -> str:
        """Pods of this environment get ``<prefix>.1.1`` and up (127.A.0.1 is the environment's own)."""
        return self.loopback.rsplit(".", 2)[0]

    # -- PKI and kubeconfigs -----------------------------------------------------------------

    def _write_pki(self) -> None:
        pki = self.run_dir / "pki"
        hosts = sorted({self.address, self.loopback, "localhost", "127.0.0.1"})
        self.apiserver_pair = self.ca.serving(
            "kube-apiserver",
            [*hosts, nodehost.GATEWAY, "kubernetes", "kubernetes.default", "kubernetes.default.svc", "10.0.0.1"],
        )
        self.scheduler_pair = self.ca.serving("kube-scheduler", hosts)
        self.scheduler_client = self.ca.client("scheduler-client", "system:kube-scheduler")
        if self.node is not None:
            self.node.write_pki()
        self.controller_manager_pair = self.ca.serving("kube-controller-manager", hosts)
        self.admin_pair = self.ca.client("admin", "certwright-env-admin", "system:masters")
        self.controller_manager_client = self.ca.client("kcm-client", "system:kube-controller-manager")
        self.standin_client = self.ca.client("stand-in-client", "certwright-stand-in", "system:masters")
        self.service_account_key = tlsfiles.service_account_key(pki)

    @property
    def apiserver_url(self) -> str:
        return f"https://{self.apiserver_address}:{self.apiserver_port}"

    def write_kubeconfig(self, path: Path, user: dict[str, str]) -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "certwright-env",
                    "cluster": {"server": self.apiserver_url, "certificate-authority": str(self.ca.cert_file)},
                }
            ],
            "users": [{"name": "user", "user": user}],
            "contexts": [{"name": "certwright-env", "context": {"cluster": "certwright-env", "user": "user"}}],
            "current-context": "certwright-env",
        }
        path.write_text(json.dumps(config, indent=2))
        path.chmod(0o600)
        return path

    def service_account_kubeconfig(self, namespace: str, name: str, duration: str = "24h") -> Path:
        """A kubeconfig for a ServiceAccount, from a TokenRequest, so a process has exactly its RBAC."""
        token = self.kubectl("create", "token", name, "-n", namespace, "--duration", duration).stdout.strip()
        return self.write_kubeconfig(self.run_dir / f"kubeconfig-{namespace}-{name}", {"token": token})

    # -- components --------------------------------------------------------------------------

    def _start_etcd(self) -> None:
        assert self.binaries is not None
        client_port = processes.free_port(self.loopback)
        peer_port = processes.free_port(self.loopback)
        client_url = f"http://{self.loopback}:{client_port}"
        peer_url = f"http://{self.loopback}:{peer_port}"
        self.etcd_url = client_url
        child = self.spawn(
            "etcd",
            [
                self.binaries.etcd,
                "--name=certwright",
                f"--data-dir={self.run_dir / 'etcd'}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=certwright={peer_url}",
                "--unsafe-no-fsync=true",
                "--log-level=warn",
            ],
        )
        processes.wait_until(child, lambda: b'"health":"true"' in _get(f"{client_url}/health"), 60)

    def _start_apiserver(self) -> None:
        assert self.binaries is not None
        self.apiserver_port = processes.free_port(self.apiserver_address)
        audit_policy = self.run_dir / "audit-policy.yaml"
        audit_policy.write_text(
            json.dumps({"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Metadata"}]})
        )
        self.audit_log = self.log_dir / "audit.log"
        self._apiserver_argv = [
            self.binaries.kube_apiserver,
            f"--etcd-servers={self.etcd_url}",
            f"--bind-address={self.apiserver_address}",
            f"--advertise-address={self.apiserver_address}",
            f"--secure-port={self.apiserver_port}",
            f"--tls-cert-file={self.apiserver_pair.cert}",
            f"--tls-private-key-file={self.apiserver_pair.key}",
            f"--client-ca-file={self.ca.cert_file}",
            "--authorization-mode=Node,RBAC",
            "--allow-privileged=true",  # so that Pod Security admission, not this flag, is what refuses
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={self.service_account_key}",
            f"--service-account-signing-key-file={self.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            f"--audit-policy-file={audit_policy}",
            f"--audit-log-path={self.audit_log}",
            f"--cert-dir={self.run_dir / 'apiserver-certs'}",
            *self._apiserver_node_flags(),
        ]
        self._apiserver = self.spawn("kube-apiserver", self._apiserver_argv)
        self.kubeconfig = self.write_kubeconfig(
            self.run_dir / "kubeconfig",
            {"client-certificate": str(self.admin_pair.cert), "client-key": str(self.admin_pair.key)},
        )
        self._wait_apiserver_ready()

    def _wait_apiserver_ready(self) -> None:
        context = self.ssl_context(client=True)
        processes.wait_until(self._apiserver, lambda: _get(f"{self.apiserver_url}/readyz", context) == b"ok", 90)

    def restart_apiserver(self, down_for: float = 0.0) -> None:
        """Stop kube-apiserver (SIGTERM, as a control-plane upgrade does), keep it down for ``down_for``
        seconds, and start it again on the same address with the same flags; returns once it is ready.
        Everything else — etcd, the kubelet, the operator — stays up and must find it again."""
        place = self.children.index(self._apiserver)  # so that it still stops in its turn, after its clients
        self._apiserver.stop()
        time.sleep(down_for)
        self._apiserver = processes.spawn("kube-apiserver", self._apiserver_argv, self.log_dir)
        self.children[place] = self._apiserver
        self._wait_apiserver_ready()

    def _apiserver_node_flags(self) -> list[str]:
        if self.node is None:
            # Loopback may not be an endpoint of the `kubernetes` Service, and no Pod could use it anyway.
            return ["--endpoint-reconciler-type=none"]
        client = self.node.apiserver_kubelet_client
        return [
            f"--kubelet-client-certificate={client.cert}",
            f"--kubelet-client-key={client.key}",
            f"--kubelet-certificate-authority={self.ca.cert_file}",
            "--kubelet-preferred-address-types=InternalIP",
            "--enable-admission-plugins=NodeRestriction",
        ]

    def _start_scheduler(self) -> None:
        assert self.binaries is not None
        assert self.node is not None
        kubeconfig = self.write_kubeconfig(
            self.run_dir / "kubeconfig-scheduler",
            {"client-certificate": str(self.scheduler_client.cert), "client-key": str(self.scheduler_client.key)},
        )
        port = processes.free_port(self.loopback)
        child = self.spawn(
            "kube-scheduler",
            [
                self.node.binaries["kube-scheduler"],
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                f"--bind-address={self.loopback}",
                f"--secure-port={port}",
                f"--tls-cert-file={self.scheduler_pair.cert}",
                f"--tls-private-key-file={self.scheduler_pair.key}",
                "--leader-elect=false",
                "--authentication-skip-lookup=true",
            ],
        )
        context = self.ssl_context()
        processes.wait_until(child, lambda: _get(f"https://{self.loopback}:{port}/healthz", context) == b"ok", 60)

    def _start_controller_manager(self) -> Callable[[], None]:
        """Start it and return the wait for it, which the other components need not hold up."""
        assert self.binaries is not None
        kubeconfig = self.write_kubeconfig(
            self.run_dir / "kubeconfig-controller-manager",
            {
                "client-certificate": str(self.controller_manager_client.cert),
                "client-key": str(self.controller_manager_client.key),
            },
        )
        port = processes.free_port(self.loopback)
        child = self.spawn(
            "kube-controller-manager",
            [
                self.binaries.kube_controller_manager,
                f"--kubeconfig={kubeconfig}",
                f"--authentication-kubeconfig={kubeconfig}",
                f"--authorization-kubeconfig={kubeconfig}",
                f"--bind-address={self.loopback}",
                f"--secure-port={port}",
                f"--tls-cert-file={self.controller_manager_pair.cert}",
                f"--tls-private-key-file={self.controller_manager_pair.key}",
                f"--service-account-private-key-file={self.service_account_key}",
                f"--root-ca-file={self.ca.cert_file}",
                "--use-service-account-credentials=true",
                "--leader-elect=false",
                "--authentication-skip-lookup=true",  # no front-proxy here; stops a looping lookup error
                "--controllers=*," + ",".join(f"-{name}" for name in self._disabled_controllers()),
            ],
        )
        # Ready for us once it serves and the service-account controller has filled `default`.
        context = self.ssl_context()
        return lambda: processes.wait_until(
            child,
            lambda: (
                _get(f"https://{self.loopback}:{port}/healthz", context) == b"ok"
                and self.kubectl("get", "serviceaccount", "default", "-n", "default", check=False).returncode == 0
            ),
            60,
        )

    @property
    def _standin_node(self) -> str:
        return f"stand-in-{self.loopback.replace('.', '-')}"

    def _disabled_controllers(self) -> tuple[str, ...]:
        return DISABLED_CONTROLLERS if self.node is not None else STANDIN_DISABLED_CONTROLLERS + DISABLED_CONTROLLERS

    def install_gateway_api(self) -> None:
        """The standard channel's CRDs (server-side: HTTPRoute's is too large for apply's annotation); at start,
        or later for a test that installs them into a running cluster.

        The stand-in creates its GatewayClass, as it creates its IngressClass.
        """
        crds = gatewayapi.ensure_crds()
        files = [arg for file in gatewayapi.crd_files(crds) for arg in ("-f", str(file))]
        self.kubectl("apply", "--server-side", "--field-manager=certwright-env", *files)
        names = [f"crd/{name}" for name in gatewayapi.crd_names(crds)]
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)

    def _start_standin(self) -> None:
        ready_file = self.run_dir / "stand-in.ready"
        config_file = self.run_dir / "stand-in.json"
        kubeconfig = self.write_kubeconfig(
            self.run_dir / "kubeconfig-stand-in",
            {"client-certificate": str(self.standin_client.cert), "client-key": str(self.standin_client.key)},
        )
        config_file.write_text(
            json.dumps(
                {
                    "kubeconfig": str(kubeconfig),
                    "address": self.address,
                    "http_port": self.http_port,
                    "pod_subnet_prefix": self.pod_subnet_prefix,
                    "pod_selector": self.pod_selector,
                    "ingress_class": self.ingress_class,
                    "gateway_api": self.gateway_api,
                    "gateway_class": gatewayapi.STANDIN_GATEWAY_CLASS,
                    "node_name": self._standin_node,
                    "run_pods": self.node is None,
                    "kubernetes_version": KUBERNETES_VERSION,
                    "images": self.image_map,
                    "ready_file": str(ready_file),
                    "log_dir": str(self.log_dir),
                },
                indent=2,
            )
        )
        env = {**os.environ, "PYTHONPATH": _pythonpath()}
        child = self.spawn("stand-in", [sys.executable, "-m", "certwright_env.standin", config_file], env=env)
        processes.wait_until(child, ready_file.exists, 30)

    # -- helpers for tests and people --------------------------------------------------------

    def ssl_context(self, *, client: bool = False) -> ssl.SSLContext:
        """Verifies the run's CA (never switched off); with ``client``, presents the admin certificate."""
        context = super().ssl_context()
        if client:
            context.load_cert_chain(str(self.admin_pair.cert), str(self.admin_pair.key))
        return context

    def pause_pods(self, paused: bool = True) -> None:
        """While paused, no new Pod starts (as in a cluster that is slow to start them).

        The real node is cordoned, so new Pods stay Pending; the stand-in simply waits.
        """
        if self.node is not None:
            self.kubectl("uncordon" if not paused else "cordon", NODE_NAME)
        _flag(self.run_dir / "stand-in.pause-pods", paused)

    def hold_validation(self, held: bool = True) -> None:
        """While held, the CA's HTTP-01 requests wait at the stand-in's ingress (a slow path)."""
        _flag(self.run_dir / "stand-in.hold-ca", held)

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True, kubeconfig: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl as a user would; ``check`` raises with its stderr on failure."""
        assert self.binaries is not None
        completed = subprocess.run(
            [str(self.binaries.kubectl), f"--kubeconfig={kubeconfig or self.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and completed.returncode != 0:
            raise KubectlError(
                f"kubectl {' '.join(args)} failed (exit {completed.returncode}): {completed.stderr.strip()}"
            )
        return completed

    def apply(self, *objects: dict[str, Any]) -> None:
        """``kubectl apply`` the objects, as a user would."""
        self.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))

    def create_gateway(
        self, namespace: str, name: str, *, listeners: list[dict[str, Any]] | None = None, routes_from: str = "All"
    ) -> dict[str, Any]:
        """Apply a Gateway of the stand-in's class and return it; by default one HTTP listener on port 80."""
        gateway = gatewayapi.build_gateway(namespace, name, listeners=listeners, routes_from=routes_from)
        self.apply(gateway)
        return gateway

    def exports(self) -> str:
        return "\n".join(
            [
                f"export KUBECONFIG={self.kubeconfig}",
                f"export PEBBLE_DIRECTORY_URL={self.pebble_directory_url}",
                f"export PEBBLE_CA_BUNDLE={self.pebble_ca_bundle}",
                f"export PEBBLE_MANAGEMENT_URL={self.pebble_management_url}",
                f"export CERTWRIGHT_ENV_NAMESERVERS={self.nameserver}",
                f"export BIND_NAMESERVER={self.bind.nameserver}",
                f"export BIND_TSIG_KEY_NAME={self.bind.tsig_key_name}",
                f"export BIND_TSIG_ALGORITHM={self.bind.tsig_algorithm}",
                f"export BIND_TSIG_SECRET={self.bind.tsig_secret}",
                f"export CERTWRIGHT_IMAGE={self.certwright_image}",
            ]
        )


def _in_background(step: Callable[[], None]) -> Callable[[], None]:
    """Run ``step`` on a thread; the returned call waits for it and raises what it raised."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            step()
        except BaseException as error:  # noqa: BLE001 - raised again in the thread that waits
            failure.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def wait() -> None:
        thread.join()
        if failure:
            raise failure[0]

    return wait


def _flag(path: Path, on: bool) -> None:
    if on:
        path.touch()
    else:
        path.unlink(missing_ok=True)


def default_image_map() -> dict[str, Any]:
    """Images the stand-in can run: certwright's own (this checkout) and the echo test image."""
    python = sys.executable
    executables = {"python": python, "python3": python}
    operator_path = str(REPO / "operator")
    return {
        image: {
            "executables": executables,
            "entrypoint": [python, "-m", "certwright"],
            "env": {"PYTHONPATH": operator_path, "PYTHONDONTWRITEBYTECODE": "1"},
        }
        for image in ("ghcr.io/certwright/certwright", "certwright")
    } | {
        ECHO_IMAGE.rsplit(":", 1)[0]: {
            "executables": executables,
            "entrypoint": [python, "-m", "certwright_env.echo"],
            "env": {"PYTHONPATH": str(REPO / "testenv"), "PYTHONDONTWRITEBYTECODE": "1"},
        }
    }


def _get(url: str, context: ssl.SSLContext | None = None) -> bytes:
    with urllib.request.urlopen(url, timeout=2, context=context) as response:  # noqa: S310 - our own URLs
        body: bytes = response.read()
        return body


def _pythonpath() -> str:
    here = str(Path(__file__).resolve().parent.parent)
    existing = os.environ.get("PYTHONPATH")
    return f"{here}{os.pathsep}{existing}" if existing else here
