"""DNS-01 on the local environment: apply → Ready for a wildcard and its apex, and a burst.

    PYTHONPATH=operator:testenv:. .venv/bin/python bench/dns01_issuance.py [--single 10] [--burst 50]

The operator writes TXT records into the environment's BIND with RFC 2136 (TSIG), waits until the
zone's authoritative nameserver serves them (asked directly, with a back-off from 100 ms), and Pebble
(validation sleep off) validates by asking BIND. No Pods are involved, so the stand-in node is used.
API requests are the operator's own, from the API server's audit log. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import time
import uuid

from bench.operator_issuance import audit_mark, operator_requests, ready_times, wait_all, writes_of
from tests.integration.certwright import apply, certificate, issuer

from certwright_env import Environment
from certwright_env.operator import OperatorProcess, install


def namespace_with_dns_issuer(env: Environment, namespace: str) -> None:
    env.kubectl("create", "namespace", namespace)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "tsig", "namespace": namespace},
        "data": {"secret": base64.b64encode(env.bind.tsig_secret.encode()).decode()},
    }
    solver = {
        "dns01": {
            "rfc2136": {
                "nameserver": env.bind.nameserver,
                "tsigKeyName": env.bind.tsig_key_name,
                "tsigAlgorithm": env.bind.tsig_algorithm,
                "tsigSecretSecretRef": {"name": "tsig", "key": "secret"},
            }
        }
    }
    apply(env, secret, issuer(env, "pebble", namespace, solvers=[solver]))
    env.kubectl("wait", "issuer/pebble", "-n", namespace, "--for=condition=Ready", "--timeout=60s")


def wildcard_and_apex() -> list[str]:
    base = f"{uuid.uuid4().hex[:10]}.example.test"
    return [f"*.{base}", base]


def single(env: Environment, runs: int) -> None:
    namespace = "bench-dns01"
    namespace_with_dns_issuer(env, namespace)
    durations = []
    mark = audit_mark(env)
    for run in range(runs):
        started = time.monotonic()
        apply(env, certificate(f"wild-{run}", namespace, wildcard_and_apex(), "pebble"))
        env.kubectl("wait", f"certificate/wild-{run}", "-n", namespace, "--for=condition=Ready", "--timeout=60s")
        durations.append(time.monotonic() - started)
    time.sleep(3)  # let the last clean-up requests land in the audit log
    requests = operator_requests(env, mark)
    print(
        f"wildcard + apex over DNS-01, kubectl apply → Ready (kubectl wait included): median "
        f"{statistics.median(durations):.2f} s, min {min(durations):.2f} s, max {max(durations):.2f} s over {runs}",
        flush=True,
    )
    print(
        f"API requests per issuance: {sum(requests.values()) / runs:.1f} ({writes_of(requests) / runs:.1f} writes)",
        flush=True,
    )
    for (verb, resource, code), number in sorted(requests.items()):
        print(f"    {number / runs:4.1f}  {verb} {resource} → {code}")


def burst(env: Environment, count: int) -> None:
    namespace = f"bench-dns01-burst-{count}"
    namespace_with_dns_issuer(env, namespace)
    manifests = [certificate(f"b-{n}", namespace, wildcard_and_apex(), "pebble") for n in range(count)]
    started = time.time()
    apply(env, *manifests)
    wait_all(env, namespace, count, timeout=600)
    elapsed = max(ready_times(env, namespace).values()) - started
    left = env.kubectl("get", "challenges", "-n", namespace, "-o", "name").stdout.splitlines()
    print(
        f"burst of {count} wildcard + apex Certificates: {count / elapsed:.1f}/s, all Ready after {elapsed:.1f} s; "
        f"{len(left)} Challenges left",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--single", type=int, default=10)
    parser.add_argument("--burst", type=int, nargs="*", default=[50])
    options = parser.parse_args()
    with Environment(real_node=False) as env:
        install(env)
        operator = OperatorProcess(env)
        operator.start()
        time.sleep(2)  # the operator's watches start
        single(env, options.single)
        for count in options.burst:
            burst(env, count)


if __name__ == "__main__":
    main()
