"""``make demo``: the main job on the local environment — a certificate issued end to end, shown with kubectl."""

from __future__ import annotations

import base64
import json
import sys
import time

from cryptography import x509

from .environment import REPO, Environment
from .issuer import pebble_issuer_yaml
from .operator import OperatorProcess, install


def main() -> int:
    print(
        "certwright demo: starting a local control plane, a node, Pebble, the ingress stand-in and the operator…",
        flush=True,
    )
    with Environment() as env:
        install(env)
        operator = OperatorProcess(env)
        operator.start()
        print(f"certwright demo: ready in {env.timings['total']:.1f} s; component logs in {env.log_dir}\n")
        issuer_file = env.run_dir / "issuer-pebble.yaml"
        issuer_file.write_text(pebble_issuer_yaml(env.pebble_directory_url, env.pebble_ca_bundle))
        _show(env, "get", "nodes", "-o", "wide")
        _show(env, "create", "namespace", "demo")
        _show(env, "apply", "-n", "demo", "-f", str(issuer_file))
        started = time.monotonic()
        _show(env, "apply", "-n", "demo", "-f", str(REPO / "examples" / "certificate.yaml"))
        _show(env, "get", "pods", "-n", "demo", "-o", "wide")  # the HTTP-01 solver, starting
        _show(env, "wait", "-n", "demo", "certificate/web", "--for=condition=Ready", "--timeout=90s")
        print(f"certwright demo: Ready {time.monotonic() - started:.1f} s after kubectl apply\n")
        _show(env, "get", "certificates", "-n", "demo")
        _show(env, "describe", "certificate", "web", "-n", "demo")
        _show(env, "get", "secret", "web-tls", "-n", "demo")
        secret = json.loads(env.kubectl("get", "secret", "web-tls", "-n", "demo", "-o", "json").stdout)
        leaf = x509.load_pem_x509_certificates(base64.b64decode(secret["data"]["tls.crt"]))[0]
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName
        )
        print(
            "$ kubectl get secret web-tls -n demo -o jsonpath='{.data.tls\\.crt}' | base64 -d | openssl x509 -noout …"
        )
        print(f"subject:    {leaf.subject.rfc4514_string() or '(empty; the names are in the SAN)'}")
        print(f"SANs:       {', '.join(names)}")
        print(f"issuer:     {leaf.issuer.rfc4514_string()}")
        print(f"not before: {leaf.not_valid_before_utc:%Y-%m-%d %H:%M:%S} UTC")
        print(f"not after:  {leaf.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC")
        print("\ncertwright demo: done; everything it started is stopped. `make env` keeps it running for you.")
    return 0


def _show(env: Environment, *args: str) -> None:
    print(f"$ kubectl {' '.join(args)}")
    print(env.kubectl(*args).stdout.rstrip() + "\n", flush=True)


if __name__ == "__main__":
    sys.exit(main())
