"""The kind tier: the chart, ingress-nginx and Pebble in a kind cluster, where a container engine runs.

Here (no engine) it skips with the reason. Where kind and docker work, it does what the README's kind
quickstart says: a cluster from kind-config.yaml, certwright's image built with docker and loaded,
ingress-nginx, Pebble with pebble-challtestsrv as its DNS (every name answered with the ingress
controller's ClusterIP), the chart, and a Certificate issued through all of them.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import certwright

REPO = Path(__file__).resolve().parents[2]
CLUSTER = "certwright-e2e"
IMAGE = f"ghcr.io/certwright/certwright:{certwright.__version__}"
INGRESS_NGINX = "https://raw.githubusercontent.com/kubernetes/ingress-nginx/controller-v1.12.1/deploy/static/provider/kind/deploy.yaml"
PEBBLE_ROOT = "https://raw.githubusercontent.com/letsencrypt/pebble/main/test/certs/pebble.minica.pem"


def _container_engine() -> str | None:
    """Why there is no usable container engine here, or None when there is one."""
    for tool in ("kind", "docker", "kubectl", "helm"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode != 0:
        return "the docker client finds no running engine"
    return None


_MISSING = _container_engine()
pytestmark = pytest.mark.skipif(_MISSING is not None, reason=f"e2e needs a container engine: {_MISSING}")


def _run(*command: str, stdin: str | None = None, timeout: float = 600) -> str:
    completed = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=timeout)
    assert completed.returncode == 0, f"{' '.join(command)}: {completed.stderr}"
    return completed.stdout


def _kubectl(*arguments: str, stdin: str | None = None) -> str:
    return _run("kubectl", "--context", f"kind-{CLUSTER}", *arguments, stdin=stdin)


PEBBLE = """
apiVersion: v1
kind: ConfigMap
metadata: {name: pebble, namespace: certwright}
data:
  # The image's test config validates HTTP-01 on port 5002; an ingress controller answers on 80.
  pebble-config.json: |
    {"pebble": {"listenAddress": "0.0.0.0:14000", "managementListenAddress": "0.0.0.0:15000",
                "certificate": "/test/certs/localhost/cert.pem", "privateKey": "/test/certs/localhost/key.pem",
                "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: pebble, namespace: certwright}
spec:
  selector: {matchLabels: {app: pebble}}
  template:
    metadata: {labels: {app: pebble}}
    spec:
      containers:
        - name: challtestsrv
          image: ghcr.io/letsencrypt/pebble-challtestsrv:latest
          args: ["-defaultIPv4", "%(ingress_ip)s", "-defaultIPv6", "", "-dnsserver", ":8053",
                 "-http01", "", "-https01", "", "-tlsalpn01", ""]
        - name: pebble
          image: ghcr.io/letsencrypt/pebble:latest
          args: ["-config", "/config/pebble-config.json", "-dnsserver", "127.0.0.1:8053"]
          env: [{name: PEBBLE_VA_NOSLEEP, value: "1"}]
          volumeMounts: [{name: config, mountPath: /config}]
      volumes: [{name: config, configMap: {name: pebble}}]
---
apiVersion: v1
kind: Service
metadata: {name: pebble, namespace: certwright}
spec:
  selector: {app: pebble}
  ports: [{name: acme, port: 14000}, {name: dns, port: 8053, protocol: UDP}]
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    _run("kind", "create", "cluster", "--name", CLUSTER, "--config", str(REPO / "kind-config.yaml"), "--wait", "120s")
    try:
        _run("docker", "build", "--tag", IMAGE, str(REPO), timeout=1200)
        _run("kind", "load", "docker-image", IMAGE, "--name", CLUSTER)
        _kubectl("apply", "-f", INGRESS_NGINX)
        _kubectl("wait", "-n", "ingress-nginx", "--for=condition=Ready", "pod", "-l",
                 "app.kubernetes.io/component=controller", "--timeout=300s")  # fmt: skip
        yield
    finally:
        subprocess.run(["kind", "delete", "cluster", "--name", CLUSTER], check=False, timeout=300)


def test_a_certificate_is_issued_through_ingress_nginx_by_pebble(cluster: None) -> None:
    _kubectl("create", "namespace", "certwright")
    ingress_ip = _kubectl("get", "service", "-n", "ingress-nginx", "ingress-nginx-controller",
                          "-o", "jsonpath={.spec.clusterIP}")  # fmt: skip
    _kubectl("apply", "-f", "-", stdin=PEBBLE % {"ingress_ip": ingress_ip})
    _kubectl("rollout", "status", "-n", "certwright", "deployment/pebble", "--timeout=300s")
    dns_ip = _kubectl("get", "service", "-n", "certwright", "pebble", "-o", "jsonpath={.spec.clusterIP}")
    _run(
        "helm", "--kube-context", f"kind-{CLUSTER}", "install", "certwright", str(REPO / "charts" / "certwright"),
        "--namespace", "certwright", "--set", "image.pullPolicy=Never",
        "--set", f"extraArgs={{--selfcheck-nameservers={dns_ip}:8053}}", "--wait", "--timeout", "300s",
    )  # fmt: skip
    with urllib.request.urlopen(PEBBLE_ROOT, timeout=30) as response:  # Pebble's fixed test CA (its TLS)
        bundle = base64.b64encode(response.read()).decode()
    issuer = {
        "apiVersion": "certwright.dev/v1",
        "kind": "ClusterIssuer",
        "metadata": {"name": "pebble"},
        "spec": {
            "acme": {
                "server": "https://pebble:14000/dir",  # the certificate Pebble serves names `pebble`
                "caBundle": bundle,
                "privateKeySecretRef": {"name": "pebble-account"},
                "solvers": [{"http01": {"ingress": {"ingressClassName": "nginx"}}}],
            }
        },
    }
    certificate = {
        "apiVersion": "certwright.dev/v1",
        "kind": "Certificate",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "secretName": "web-tls",
            "dnsNames": ["web.example.test"],
            "issuerRef": {"name": "pebble", "kind": "ClusterIssuer"},
        },
    }
    _kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": [issuer, certificate]}))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = json.loads(_kubectl("get", "certificate", "web", "-o", "json")).get("status") or {}
        if any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or []):
            break
        time.sleep(2)
    else:
        pytest.fail(f"the Certificate was not Ready in 300 s: {status}")
    secret = json.loads(_kubectl("get", "secret", "web-tls", "-o", "json"))
    assert secret["type"] == "kubernetes.io/tls"
    assert base64.b64decode(secret["data"]["tls.crt"]).startswith(b"-----BEGIN CERTIFICATE-----")
