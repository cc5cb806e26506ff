"""``python -m certwright_env`` (``make env``): one environment in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from .base import REPO
from .environment import Environment
from .gatewayapi import GATEWAY_API_VERSION, STANDIN_GATEWAY_CLASS
from .issuer import pebble_dns01_issuer_yaml, pebble_issuer_yaml
from .operator import NAMESPACE, HelmRelease, OperatorProcess, install
from .processes import ask_for_sigterm_when_parent_dies


def main() -> int:
    parser = argparse.ArgumentParser(prog="make env", description=__doc__)
    parser.add_argument("--run-dir", type=Path, help="folder for the run's files (default: a new temporary folder)")
    parser.add_argument("--exports-file", type=Path, help="where to write the export lines (default: RUN_DIR/env.sh)")
    parser.add_argument("--once", action="store_true", help="start, print, and stop at once (for a quick check)")
    options = parser.parse_args()

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    ask_for_sigterm_when_parent_dies()  # `make env` stopped with SIGTERM does not pass it on
    mode = os.environ.get("CERTWRIGHT_ENV_OPERATOR", "process")
    if mode not in OPERATOR_MODES:
        print(
            f"certwright-env: CERTWRIGHT_ENV_OPERATOR={mode!r}: use one of {', '.join(OPERATOR_MODES)}", file=sys.stderr
        )
        return 2
    print(
        "certwright-env: starting etcd, kube-apiserver, kube-controller-manager, BIND, Pebble, the node and the "
        "stand-in's ingress and Gateway…",
        file=sys.stderr,
        flush=True,
    )
    with Environment(options.run_dir) as env:
        operator_line, metrics_url = _start_operator(env, mode)
        issuer_file = env.run_dir / "issuer-pebble.yaml"
        issuer_file.write_text(pebble_issuer_yaml(env.pebble_directory_url, env.pebble_ca_bundle))
        dns01_issuer_file = env.run_dir / "issuer-pebble-dns01.yaml"
        dns01_issuer_file.write_text(
            pebble_dns01_issuer_yaml(env.pebble_directory_url, env.pebble_ca_bundle, env.bind, namespace=NAMESPACE)
        )
        exports = env.exports() + f"\nexport CERTWRIGHT_NAMESPACE={NAMESPACE}"
        if metrics_url:
            exports += f"\nexport CERTWRIGHT_METRICS_URL={metrics_url}"
        if env.gateway_api:
            env.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": GATEWAY_NAMESPACE}})
            env.create_gateway(GATEWAY_NAMESPACE, GATEWAY_NAME, routes_from="All")
            exports += f"\nexport CERTWRIGHT_ENV_GATEWAY={GATEWAY_NAMESPACE}/{GATEWAY_NAME}"
        if env.node is not None:
            print(
                f"certwright-env: node {env.node_name}: kubelet with containerd {env.node.runtime_version()} and runc; "
                f"Pods can run {env.certwright_image} (imagePullPolicy: Never or IfNotPresent)",
                file=sys.stderr,
            )
        else:
            print("certwright-env: Pods run on the stand-in kubelet (as local processes)", file=sys.stderr)
        exports_file = options.exports_file or env.run_dir / "env.sh"
        exports_file.write_text(exports + "\n")
        timings = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in env.timings.items())
        print(f"certwright-env: ready in {env.timings['total']:.1f} s ({timings})", file=sys.stderr)
        print(f"certwright-env: logs in {env.log_dir}", file=sys.stderr)
        print(f"certwright-env: these lines are also in {exports_file} (source it in another shell):", file=sys.stderr)
        print(exports, flush=True)
        print(f"certwright-env: {operator_line}; try:", file=sys.stderr)
        print(f"  kubectl apply -f {issuer_file} -f examples/certificate.yaml", file=sys.stderr)
        print("  kubectl get certificates -w", file=sys.stderr)
        print(
            f"certwright-env: BIND at {env.bind.nameserver} takes signed updates for {', '.join(env.bind.zones)}; "
            "a ClusterIssuer answering DNS-01 there:",
            file=sys.stderr,
        )
        print(f"  kubectl apply -f {dns01_issuer_file}", file=sys.stderr, flush=True)
        if env.gateway_api:
            print(
                f"certwright-env: Gateway API {GATEWAY_API_VERSION}: the stand-in's Gateway {GATEWAY_NAMESPACE}/"
                f"{GATEWAY_NAME} (class {STANDIN_GATEWAY_CLASS}) serves HTTPRoutes from every namespace on port 80",
                file=sys.stderr,
                flush=True,
            )
        if not options.once:
            print("certwright-env: running; Ctrl-C stops everything", file=sys.stderr, flush=True)
            stopped.wait()
        print("certwright-env: stopping…", file=sys.stderr, flush=True)
    return 0


GATEWAY_NAMESPACE = "certwright-env"
GATEWAY_NAME = "gateway"  # the Issuer file's commented gatewayHTTPRoute solver names it
OPERATOR_MODES = {
    "process": "the operator as a process from this checkout",
    "helm": "the chart installed with the local image, the operator as a Pod on the node",
    "none": "no operator: install it yourself (kubectl apply -f crds/ -f manifests/, or helm install)",
}


def _start_operator(env: Environment, mode: str) -> tuple[str, str | None]:
    """Start the operator as CERTWRIGHT_ENV_OPERATOR says; the summary line for it, and its metrics
    URL where this machine reaches it (the process's; a Pod's is behind a ClusterIP Service)."""
    if mode == "process":
        install(env)
        operator = OperatorProcess(env)
        operator.start()
        line = f"the operator runs from this checkout (log: {operator.log}, metrics: {operator.metrics_url})"
        return line, operator.metrics_url
    if mode == "helm":
        if env.node is None:
            raise SystemExit(f"certwright-env: CERTWRIGHT_ENV_OPERATOR=helm needs the real node ({env.no_node_reason})")
        HelmRelease(env).install()
        return "the operator runs as a Pod, installed with helm (kubectl logs -n certwright deploy/certwright)", None
    env.kubectl("apply", "-f", str(REPO / "crds"))
    return "no operator runs (CERTWRIGHT_ENV_OPERATOR=none); the CRDs are installed", None


if __name__ == "__main__":
    sys.exit(main())
