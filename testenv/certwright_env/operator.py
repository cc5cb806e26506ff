"""certwright installed into an environment as a user installs it, and run from this checkout.

``install`` applies ``crds/`` and ``manifests/`` with kubectl; ``OperatorProcess`` runs
``python -m certwright`` under the ServiceAccount those manifests create (a kubeconfig from a
TokenRequest), so it has exactly the RBAC a user's install grants. Its self-check asks the
environment's DNS, the one setting a split-horizon cluster would also need; it serves its metrics on a
free port of the environment's loopback address (``metrics_url``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from .binaries import ensure_helm
from .environment import REPO, Environment, KubectlError
from .probes import eventually
from .processes import Child, free_port, spawn

NAMESPACE = "certwright"
SERVICE_ACCOUNT = "certwright"


def install(env: Environment) -> None:
    """CRDs and the operator's namespace, ServiceAccount and RBAC from the plain install, as a user applies them.

    The manifests' Deployment is left out: here the operator runs as a process from this checkout.
    """
    env.kubectl("apply", "-f", str(REPO / "crds"))
    documents = [
        document
        for path in sorted((REPO / "manifests").glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document and document.get("kind") != "Deployment"
    ]
    env.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": documents}))
    env.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    for _ in range(100):  # the controller-manager fills in the namespace's default ServiceAccount
        try:
            env.kubectl("get", "serviceaccount", SERVICE_ACCOUNT, "-n", NAMESPACE)
            return
        except KubectlError:
            continue


class OperatorProcess:
    """The operator as a real process; ``kill`` is SIGKILL, for crash tests."""

    def __init__(self, env: Environment, *extra: str, name: str = "operator") -> None:
        self.env = env
        self.extra = extra
        self.name = name  # of its log file (a second replica needs its own)
        self.child: Child | None = None
        self.starts = 0
        self.metrics_address = f"{env.loopback}:{free_port(env.loopback)}"  # kept across restarts

    @property
    def metrics_url(self) -> str:
        """The operator's Prometheus endpoint."""
        return f"http://{self.metrics_address}/metrics"

    def start(self) -> None:
        kubeconfig = self.env.service_account_kubeconfig(NAMESPACE, SERVICE_ACCOUNT)
        self.starts += 1
        python_path = os.pathsep.join([str(REPO / "operator"), os.environ.get("PYTHONPATH", "")])
        self.child = spawn(
            f"{self.name}-{self.starts}" if self.starts > 1 else self.name,
            [
                sys.executable,
                "-m",
                "certwright",
                f"--selfcheck-nameservers={self.env.nameserver}",
                f"--cluster-resource-namespace={NAMESPACE}",
                f"--metrics-address={self.metrics_address}",
                *self.extra,
            ],
            self.env.log_dir,
            env={**os.environ, "KUBECONFIG": str(kubeconfig), "PYTHONPATH": python_path},
        )
        self.env.children.append(self.child)

    def kill(self) -> None:
        """SIGKILL: nothing is flushed, nothing is cleaned up, as when a node dies."""
        if self.child is not None:
            self.child.stop_signal = signal.SIGKILL
            self.child.stop(grace=5)
            self.env.children.remove(self.child)
            self.child = None

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()
            self.env.children.remove(self.child)
            self.child = None

    @property
    def log(self) -> Path | None:
        return self.child.log if self.child else None


class HelmRelease:
    """certwright installed with its chart, as a user runs ``helm install``: the operator is a Pod on the node.

    The node has the image, so ``image.pullPolicy=Never``; the self-check asks the environment's DNS.
    """

    def __init__(self, env: Environment, name: str = "certwright", namespace: str = NAMESPACE) -> None:
        self.env = env
        self.name = name
        self.namespace = namespace
        self.helm = ensure_helm()

    def run(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [str(self.helm), "--kubeconfig", str(self.env.kubeconfig), "--namespace", self.namespace, *arguments],
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and completed.returncode != 0:
            raise KubectlError(f"helm {' '.join(arguments)} failed: {completed.stderr.strip()}")
        return completed

    def install(self, *values: str) -> subprocess.CompletedProcess[str]:
        """``helm upgrade --install --wait`` with the environment's settings and ``values`` (``key=value``),
        then until the rollout is complete: Helm 3's wait ends once the new Pods are Ready, while the old
        ones may still be running beside them."""
        if self.env.kubectl("get", "namespace", self.namespace, check=False).returncode != 0:
            self.env.kubectl("create", "namespace", self.namespace)
            self.env.kubectl("label", "namespace", self.namespace, "pod-security.kubernetes.io/enforce=restricted")
        settings = [
            "image.pullPolicy=Never",
            f"extraArgs={{--selfcheck-nameservers={self.env.nameserver}}}",
            *values,
        ]
        arguments = ["upgrade", "--install", self.name, str(REPO / "charts" / "certwright"), "--wait", "--timeout=120s"]
        completed = self.run(*arguments, *[f"--set={value}" for value in settings])
        selector = f"--selector=app.kubernetes.io/instance={self.name}"
        self.env.kubectl("rollout", "status", "deployment", selector, "-n", self.namespace, "--timeout=55s")
        return completed

    def uninstall(self) -> None:
        """``helm uninstall --wait``, then until the release's Pods are gone: Helm deletes the Deployment,
        and its Pods stop later; one that still leads still acts, and must not serve what the next
        release is tested on."""
        self.run("uninstall", self.name, "--wait", "--timeout=120s")
        selector = f"app.kubernetes.io/instance={self.name}"
        eventually(
            lambda: self.env.kubectl("get", "pods", "-n", self.namespace, "-l", selector, "-o", "name").stdout,
            lambda listed: not listed.strip(),
            timeout=90,
            what=f"the Pods of release {self.name} are gone",
        )
