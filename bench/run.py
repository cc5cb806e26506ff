"""Every figure bench/ measures, from one environment, beside cert-manager's: ``make bench``.

    PYTHONPATH=operator:testenv:. .venv/bin/python bench/run.py [--quick] [--scale N] [--stand-in]

One ``Environment`` (solver Pods on the real node unless ``--stand-in``), certwright installed as
bench/operator_issuance.py installs it, and in it:

- p1: one Certificate apply → Ready, one after another, with the operator's API requests per issuance
  from the audit log (``operator_issuance.single``);
- p2: a burst applied at once (``operator_issuance.burst``), and the raw ACME client's throughput
  against the same Pebble, ten at a time, as bench/acme_client.py measures it: the ceiling the burst is
  compared with. It runs before the operator starts, so nothing else competes with it;
- scale, with ``--scale N``: bench/scale.py's ``run``.

The full environment runs no challtestsrv: every name resolves through BIND to its ingress, where
only solver Pods answer. So the raw client gets challtestsrv of its own, started from the
environment's binaries on an address of the environment's loopback range (127.A.0.2) and Pebble's
HTTP-01 port, its DNS off; names under ``raw-acme.example.test`` point there, through one wildcard A
record added to BIND (RFC 2136) before the clock starts. Answers are provisioned through
challtestsrv's management API, as in acme_client.py; the only difference is that Pebble resolves
through BIND rather than through challtestsrv's DNS. (``python -m http.server`` was tried first: its
listen backlog of 5 drops Pebble's concurrent fetches, three per validation, and costs a 1 s SYN retry.)

Prints a markdown table and writes the figures to bench/out/latest.json. Asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import subprocess
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from bench.operator_issuance import INGRESS, burst, single
from tests.acme.flows import issue, new_client

from certwright_env import AcmeEnvironment, Environment, processes
from certwright_env.operator import OperatorProcess, install

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "latest.json"
RAW_CLIENT_ZONE = "raw-acme.example.test"  # under example.test, a zone BIND takes updates for
RAW_CLIENT_CONCURRENCY = 10

# cert-manager's figures, DESIGN §7 (and reference/cert-manager-measured.md): (section, key) → (measure,
# cert-manager, which way is better). None: cert-manager has no such figure.
COMPARED: list[tuple[str, str, str, float | None, str]] = [
    ("p1", "median_s", "one Certificate, apply → Ready, median (s)", 20.0, "lower"),
    ("p1", "api_requests_per_issuance", "API requests per issuance", 60, "lower"),
    ("p2", "certs_per_s", "burst: Certificates/s", 0.52, "higher"),
    ("p2", "first_ready_s", "burst: first Ready (s)", 10, "lower"),
    ("p2", "p50_s", "burst: apply → Ready p50 (s)", None, "lower"),
    ("p2", "p95_s", "burst: apply → Ready p95 (s)", None, "lower"),
    ("p2", "orders_per_certificate", "burst: orders per Certificate", None, "exactly 1"),
    ("p2", "acme_client_certs_per_s", "raw ACME client, 10 at a time: Certificates/s", None, "higher"),
    ("scale", "rss_steady_mib", "scale: RSS steady after a restart (MiB)", 312, "lower"),
    ("scale", "rss_peak_mib", "scale: RSS peak (MiB)", 990, "lower"),
    ("scale", "restart_requests", "scale: API requests on restart", 15, "lower"),
    ("scale", "restart_cpu_s", "scale: CPU-s on restart", 32, "lower"),
    ("scale", "restart_writes", "scale: writes on restart", 0, "lower"),
    ("scale", "rest_writes", "scale: writes at rest", 0, "lower"),
    ("scale", "first_ready_s", "scale: bulk, first Ready (s)", 110, "lower"),
    ("scale", "orders_per_certificate", "scale: bulk, orders per Certificate", 1.01, "exactly 1"),
]


class AnswerServer:
    """challtestsrv serving the raw client's HTTP-01 answers, on the full environment, which runs none.

    Offers what tests/acme/flows.py asks of an ``AcmeEnvironment``: ``directory_url``, ``ca_bundle``
    and ``add_http01`` (challtestsrv's management API, as there).
    """

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.directory_url = env.pebble_directory_url
        self.ca_bundle = env.pebble_ca_bundle
        # 127.A.0.1 is the environment's; the stand-in's Pods start at 127.A.1.1.
        self.address = f"{env.pod_subnet_prefix}.0.2"
        self.management_url = ""

    def start(self) -> None:
        """challtestsrv on Pebble's HTTP-01 port (its DNS off), and every name under RAW_CLIENT_ZONE pointed here."""
        assert self.env.binaries is not None
        port = processes.free_port(self.address)
        argv = [
            self.env.binaries.challtestsrv,
            f"-http01={self.address}:{self.env.http_port}",
            f"-management={self.address}:{port}",
            *("-dnsserver=", "-doh=", "-https01=", "-tlsalpn01="),  # off: BIND is the environment's DNS
        ]
        child = self.env.spawn("raw-client-challtestsrv", argv)
        processes.wait_until(child, lambda: processes.port_open(self.address, port), 30)
        self.management_url = f"http://{self.address}:{port}"
        self.env.bind.update("example.test", add=[(f"*.{RAW_CLIENT_ZONE}.", 10, "A", self.address)])

    def add_http01(self, token: str, key_authorization: str) -> None:
        body = json.dumps({"token": token, "content": key_authorization}).encode()
        request = urllib.request.Request(f"{self.management_url}/add-http01", data=body)
        with urllib.request.urlopen(request, timeout=10):
            pass


def raw_client_throughput(env: Environment, count: int) -> dict[str, float]:
    """``count`` issuances, RAW_CLIENT_CONCURRENCY at a time, one fresh name each (bench/acme_client.py)."""
    answers = AnswerServer(env)
    answers.start()
    pebble = cast("AcmeEnvironment", answers)  # duck-typed: see AnswerServer
    client = new_client(pebble)
    client.register()

    def one(_: int) -> None:
        issue(client, pebble, [f"{uuid.uuid4().hex[:10]}.{RAW_CLIENT_ZONE}"])

    one(0)  # warm: directory, nonces, connections
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=RAW_CLIENT_CONCURRENCY) as pool:
        list(pool.map(one, range(count)))
    elapsed = time.perf_counter() - started
    print(
        f"raw ACME client, same Pebble: {count} certificates, {RAW_CLIENT_CONCURRENCY} at a time: {elapsed:.1f} s, "
        f"{count / elapsed:.1f} certificates/s",
        flush=True,
    )
    return {
        "acme_client_certs_per_s": count / elapsed,
        "acme_client_elapsed_s": elapsed,
        "acme_client_concurrency": RAW_CLIENT_CONCURRENCY,
    }


def load_scale() -> ModuleType:
    """bench/scale.py, imported only when asked for; a clear exit when this checkout has none."""
    try:
        return importlib.import_module("bench.scale")
    except ModuleNotFoundError as error:
        if error.name != "bench.scale":
            raise
        raise SystemExit(
            "--scale needs bench/scale.py (module bench.scale), which this checkout does not have"
        ) from None


def machine() -> dict[str, Any]:
    """Cores, memory and load, the date and the commit: what a figure depends on besides the code."""
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"], cwd=HERE, capture_output=True, text=True
    ).stdout
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "uncommitted_changes": bool(changed.strip()),
        "cores": os.cpu_count(),
        "memory_mib": int(meminfo["MemTotal"].split()[0]) // 1024,
        "load_1m_at_start": os.getloadavg()[0],
    }


def table(figures: dict[str, Any]) -> str:
    """Each figure beside cert-manager's, with certwright ÷ cert-manager; — where either is missing."""
    lines = [
        "| measure | certwright | cert-manager | certwright ÷ cert-manager | better |",
        "|---|---|---|---|---|",
    ]
    for section, key, measure, theirs, better in COMPARED:
        if section == "scale" and "scale" not in figures:
            continue
        ours = (figures.get(section) or {}).get(key)
        ratio = f"{ours / theirs:.3g}" if ours is not None and theirs else "—"
        lines.append(f"| {measure} | {_number(ours)} | {_number(theirs)} | {ratio} | {better} |")
    return "\n".join(lines)


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description="Every figure bench/ measures, from one environment.")
    parser.add_argument("--quick", action="store_true", help="3 single runs and a burst of 20, not 10 and 100")
    parser.add_argument("--scale", type=int, metavar="N", help="also run bench/scale.py with N Certificates")
    parser.add_argument("--stand-in", action="store_true", help="Pods as stand-in processes, not on the real node")
    parser.add_argument("--keep", action="store_true", help="keep the environment's run folder (logs, etcd data)")
    options = parser.parse_args()
    runs, count = (3, 20) if options.quick else (10, 100)
    scale = load_scale() if options.scale else None

    figures: dict[str, Any] = {**machine(), "quick": options.quick}
    with Environment(real_node=not options.stand_in) as env:
        figures["node"] = "real" if env.node is not None else "stand-in"
        if env.no_node_reason and not options.stand_in:
            figures["no_node_reason"] = env.no_node_reason
        print(
            f"node: {figures['node']}{f' ({env.no_node_reason})' if 'no_node_reason' in figures else ''}; "
            f"{figures['cores']} cores, {figures['memory_mib']} MiB; commit {figures['commit'][:12]}"
            f"{' with uncommitted changes' if figures['uncommitted_changes'] else ''}",
            flush=True,
        )
        install(env)
        acme_client = raw_client_throughput(env, count)
        operator = OperatorProcess(env)
        operator.start()
        time.sleep(2)  # the operator's watches start
        figures["p1"] = single(env, runs, INGRESS)
        figures["p2"] = {**burst(env, count, INGRESS), **acme_client}
        if scale is not None:
            figures["scale"] = {"count": options.scale, **scale.run(env, operator, count=options.scale, say=print)}
    if not options.keep:
        env.remove_run_dir()  # a 10,000 run leaves about 1 GB of etcd data and audit logs

    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\n{table(figures)}\n\nfigures in {OUT.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
