"""certwright with thousands of Certificates: memory, a restart, rest, a bulk issuance, a renewal wave.

    PYTHONPATH=operator:testenv:. .venv/bin/python bench/scale.py [--count 10000] [--bulk 1000] [--rest 300]

(``make bench SCALE=10000`` runs it inside the whole benchmark.) The scenario (issue 16):

1. ``count`` Certificates, 1,000 per namespace (dense namespaces are where operators go quadratic),
   each with its Secret already holding a valid certificate from a local CA, so that no ACME work is
   needed; and three times ``count`` foreign Secrets (one in twenty of 100 KB), which the operator must not
   pay for. Created concurrently while the operator runs; it makes each Certificate Ready.
2. A restart (SIGKILL, start): API requests by verb and resource from the audit log, writes, CPU
   seconds until the process is idle, its RSS then (the steady figure, as cert-manager's was taken).
3. ``rest`` seconds at rest: requests and writes.
4. ``bulk`` new Certificates through Pebble (HTTP-01), spread over the namespaces while the others
   are present: first Ready, all Ready, p50/p95 apply → Ready, orders per certificate.
5. A renewal wave: the CA's renewal window (ARI) of those ``bulk`` certificates moved into the past
   through Pebble's management API; the operator is restarted with ``--ari-restart-spread=60`` so
   that it asks the CA again within a minute (it otherwise asks after the CA's Retry-After, 6 h):
   how fast they renew, orders per renewal, and that nothing else is written.

The peak RSS is the restarted process's high-water mark through steps 2 to 4; the renewal wave's
process has its own. Figures only; nothing is asserted. ``run`` returns them as a dict (``make bench``
writes them to bench/out/latest.json).
"""

from __future__ import annotations

import argparse
import base64
import collections
import datetime
import json
import random
import statistics
import string
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.operator_issuance import audit_mark, operator_events, operator_requests, process_cpu, writes_of
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kubernetes import client, config
from tests.integration.certwright import certificate, issuer

from certwright.domain import api
from certwright_env import Environment
from certwright_env.operator import OperatorProcess, install

PER_NAMESPACE = 1000
WORKERS = 24
Say = Callable[[str], None]


class LocalCA:
    """A CA of the benchmark's own: each leaf an ECDSA P-256 key and a 90-day certificate for its names."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "certwright bench CA")])
        now = datetime.datetime.now(datetime.UTC)
        self.name = name
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def leaf(self, dns_name: str) -> tuple[bytes, bytes]:
        """(chain PEM, key PEM) for ``dns_name``: issued a day ago, valid 90 days."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=89))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cert.public_bytes(serialization.Encoding.PEM) + self.pem, key_pem


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def tls_secret(namespace: str, name: str, dns_name: str, ca: LocalCA) -> dict[str, Any]:
    """The Secret as certwright writes it (labels and annotations of kube/builders.build_tls_secret)."""
    chain, key = ca.leaf(dns_name)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {
            "name": f"{name}-tls",
            "namespace": namespace,
            "labels": {api.LABEL_MANAGED: "true", api.LABEL_CERTIFICATE: name},
            "annotations": {
                api.ANNOTATION_CERTIFICATE: name,
                api.ANNOTATION_ISSUER_NAME: "pebble",
                api.ANNOTATION_ISSUER_KIND: "Issuer",
                api.ANNOTATION_DNS_NAMES: dns_name,
            },
        },
        "data": {"tls.crt": b64(chain), "tls.key": b64(key)},
    }


def foreign_secret(namespace: str, number: int) -> dict[str, Any]:
    """Secrets certwright has nothing to do with: one in twenty of 100 KB, the rest 2 KB."""
    size = 100_000 if number % 20 == 0 else 2_000
    filler = "".join(random.choices(string.ascii_letters, k=64)) * (size // 64)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"foreign-{number}", "namespace": namespace, "labels": {"app": "unrelated"}},
        "data": {"payload": b64(filler.encode())},
    }


class Cluster:
    """Concurrent object creation with the environment's admin credentials (the kubernetes client)."""

    def __init__(self, env: Environment) -> None:
        configuration = client.Configuration()
        config.load_kube_config(config_file=str(env.kubeconfig), client_configuration=configuration)  # type: ignore[no-untyped-call]
        configuration.connection_pool_maxsize = WORKERS
        self.api = client.ApiClient(configuration)
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    def create_all(self, what: str, objects: Iterable[Callable[[], dict[str, Any]]], total: int, say: Say) -> float:
        """Create objects (each made by a thunk, in the worker) concurrently; returns objects/s."""
        done = 0
        lock = threading.Lock()
        started = time.monotonic()
        step = max(total // 10, 1)

        def create(make: Callable[[], dict[str, Any]]) -> None:
            nonlocal done
            obj = make()
            meta = obj["metadata"]
            for attempt in range(5):
                try:
                    if obj["kind"] == "Secret":
                        self.core.create_namespaced_secret(meta["namespace"], obj, _preload_content=False)
                    else:
                        group, version = obj["apiVersion"].split("/")
                        plural = obj["kind"].lower() + "s"
                        self.custom.create_namespaced_custom_object(
                            group, version, meta["namespace"], plural, obj, _preload_content=False
                        )
                    break
                except client.ApiException as error:
                    if error.status == 409:
                        break
                    if attempt == 4 or error.status not in (429, 500, 503, 504):
                        raise
                    time.sleep(0.5 * (attempt + 1))
            with lock:
                done += 1
                if done % step == 0:
                    say(f"    {what}: {done}/{total} ({done / (time.monotonic() - started):.0f}/s)")

        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            list(pool.map(create, objects))
        return total / (time.monotonic() - started)

    def certificates(self, namespace: str) -> list[dict[str, Any]]:
        raw = self.custom.list_namespaced_custom_object(
            "certwright.dev", "v1", namespace, "certificates", _preload_content=False
        )
        items: list[dict[str, Any]] = json.loads(raw.data)["items"]
        return items

    def events(self, namespace: str, reason: str) -> list[dict[str, Any]]:
        raw = self.core.list_namespaced_event(namespace, field_selector=f"reason={reason}", _preload_content=False)
        items: list[dict[str, Any]] = json.loads(raw.data)["items"]
        return items


def ready_since(item: dict[str, Any]) -> float | None:
    """When the Certificate became Ready (seconds since the epoch), None when it is not."""
    for condition in (item.get("status") or {}).get("conditions") or []:
        if condition["type"] == "Ready" and condition["status"] == "True":
            stamp = datetime.datetime.strptime(condition["lastTransitionTime"], "%Y-%m-%dT%H:%M:%SZ")
            return stamp.replace(tzinfo=datetime.UTC).timestamp()
    return None


def rss_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, in MiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("Vm")
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def operator_pid(operator: OperatorProcess) -> int:
    assert operator.child is not None
    return operator.child.process.pid


def wait_idle(pid: int, *, quiet: float = 0.05, seconds: int = 5, timeout: float = 900) -> float:
    """Wait until the process used under ``quiet`` CPU-s in each of ``seconds`` consecutive seconds;
    returns the wall time waited."""
    started = time.monotonic()
    calm = 0
    last = process_cpu(pid, with_children=False)
    while calm < seconds and time.monotonic() - started < timeout:
        time.sleep(1)
        now = process_cpu(pid, with_children=False)
        calm = calm + 1 if now - last < quiet else 0
        last = now
    return time.monotonic() - started - seconds


def wait_ready(
    cluster: Cluster, namespaces: list[str], wanted: Callable[[dict[str, Any]], bool], total: int, say: Say
) -> list[dict[str, Any]]:
    """Poll until ``total`` Certificates satisfy ``wanted``; progress every 10 s. Returns them."""
    deadline = time.monotonic() + 3600
    shown = 0.0
    while True:
        good = [item for ns in namespaces for item in cluster.certificates(ns) if wanted(item)]
        if len(good) >= total:
            return good
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(good)} of {total} after an hour")
        if time.monotonic() - shown > 10:
            say(f"    {len(good)}/{total}")
            shown = time.monotonic()
        time.sleep(2)


def requests_table(requests: collections.Counter[tuple[str, str, int]]) -> dict[str, int]:
    return {f"{verb} {resource} {code}": n for (verb, resource, code), n in sorted(requests.items())}


def populate(env: Environment, cluster: Cluster, count: int, say: Say) -> list[str]:
    namespaces = [f"scale-{n:03d}" for n in range((count + PER_NAMESPACE - 1) // PER_NAMESPACE)]
    for ns in namespaces:
        env.kubectl("create", "namespace", ns)
        env.apply(issuer(env, "pebble", ns))
    ca = LocalCA()
    say(f"  {3 * count} foreign Secrets (one in twenty of 100 KB)")
    rate = cluster.create_all(
        "foreign Secrets",
        (lambda n=n: foreign_secret(namespaces[n % len(namespaces)], n) for n in range(3 * count)),
        3 * count,
        say,
    )
    say(f"  {rate:.0f} foreign Secrets/s")

    def certificate_of(n: int) -> tuple[str, str, str]:
        return namespaces[n // PER_NAMESPACE], f"c-{n}", f"c{n}.scale.example.test"

    say(f"  {count} TLS Secrets from a local CA")
    cluster.create_all(
        "TLS Secrets",
        (lambda n=n: tls_secret(*certificate_of(n), ca=ca) for n in range(count)),
        count,
        say,
    )
    say(f"  {count} Certificates")

    def manifest(n: int) -> dict[str, Any]:
        ns, name, dns_name = certificate_of(n)
        return certificate(name, ns, [dns_name], "pebble")

    cluster.create_all("Certificates", (lambda n=n: manifest(n) for n in range(count)), count, say)
    return namespaces


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def set_renewal_window_past(env: Environment, leaf_pem: str) -> None:
    now = datetime.datetime.now(datetime.UTC)
    window = {
        "suggestedWindow": {
            "start": (now - datetime.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (now - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    }
    body = json.dumps({"Certificate": leaf_pem, "ARIResponse": json.dumps(window)}).encode()
    request = urllib.request.Request(f"{env.pebble_management_url}/set-renewal-info/", data=body)
    with urllib.request.urlopen(request, context=env.ssl_context(), timeout=10) as response:
        response.read()


def leaf_of(cluster: Cluster, namespace: str, secret_name: str) -> str:
    secret = cluster.core.read_namespaced_secret(secret_name, namespace, _preload_content=False)
    chain = base64.b64decode(json.loads(secret.data)["data"]["tls.crt"]).decode()
    return chain.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"


def writes_elsewhere(env: Environment, since: str, prefix: str) -> int:
    """The operator's writes (from the audit log) to objects whose name does not start with ``prefix``:
    during a renewal wave of the ``new-`` Certificates, anything else written is a fault."""
    written = 0
    for event in operator_events(env, since):
        ref = event.get("objectRef") or {}
        if event["verb"] in ("create", "update", "patch", "delete") and ref.get("resource") != "events":
            name = ref.get("name") or ""
            if not name.startswith(prefix) and not name.startswith("certwright-solver-"):
                written += 1
    return written


def revision(item: dict[str, Any]) -> int:
    return int((item.get("status") or {}).get("revision") or 0)


def run(
    env: Environment, operator: OperatorProcess, count: int = 10_000, say: Say = print, **options: Any
) -> dict[str, Any]:
    """The scenario on a started environment with the operator running; returns the figures."""
    bulk = int(options.get("bulk", 1000))
    rest = float(options.get("rest", 300))
    cluster = Cluster(env)
    figures: dict[str, Any] = {"certificates": count, "foreign_secrets": 3 * count, "bulk": bulk}
    rss_empty, _ = rss_mib(operator_pid(operator))
    figures["rss_empty_mib"] = round(rss_empty, 1)

    say(f"scale: {count} Certificates in {(count + PER_NAMESPACE - 1) // PER_NAMESPACE} namespaces")
    started = time.monotonic()
    namespaces = populate(env, cluster, count, say)
    wait_ready(cluster, namespaces, lambda item: ready_since(item) is not None, count, say)
    figures["populate_s"] = round(time.monotonic() - started, 1)
    wait_idle(operator_pid(operator))
    rss, hwm = rss_mib(operator_pid(operator))
    figures["rss_first_process_mib"], figures["rss_first_process_peak_mib"] = round(rss, 1), round(hwm, 1)
    say(f"  all {count} Ready in {figures['populate_s']} s; operator RSS {rss:.0f} MiB (peak {hwm:.0f} MiB)")

    say("restart (SIGKILL, start)")
    time.sleep(3)
    mark = audit_mark(env)
    operator.kill()
    operator.start()
    pid = operator_pid(operator)
    idle_after = wait_idle(pid)
    requests = operator_requests(env, mark)
    figures["restart_requests"] = sum(requests.values())
    figures["restart_writes"] = writes_of(requests)
    figures["restart_cpu_s"] = round(process_cpu(pid, with_children=False), 2)
    figures["restart_idle_s"] = round(idle_after, 1)
    figures["restart_requests_by_kind"] = requests_table(requests)
    rss, _ = rss_mib(pid)
    figures["rss_steady_mib"] = round(rss, 1)
    say(
        f"  {figures['restart_requests']} requests, {figures['restart_writes']} writes, "
        f"{figures['restart_cpu_s']} CPU-s, idle after {idle_after:.1f} s; RSS {rss:.0f} MiB"
    )
    for kind, number in figures["restart_requests_by_kind"].items():
        say(f"    {number:5d}  {kind}")

    say(f"at rest for {rest:.0f} s")
    mark = audit_mark(env)
    time.sleep(rest)
    requests = operator_requests(env, mark)
    figures["rest_s"] = rest
    figures["rest_requests"] = sum(requests.values())
    figures["rest_writes"] = writes_of(requests)
    say(f"  {figures['rest_requests']} requests, {figures['rest_writes']} writes")

    if bulk:
        figures.update(bulk_issuance(env, cluster, operator, namespaces, bulk, say))
    else:
        rss, hwm = rss_mib(operator_pid(operator))
        figures["rss_peak_mib"] = round(hwm, 1)
        say(f"  operator RSS {rss:.0f} MiB now, peak {hwm:.0f} MiB since the restart")
    return figures


def bulk_issuance(
    env: Environment, cluster: Cluster, operator: OperatorProcess, namespaces: list[str], bulk: int, say: Say
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    say(f"bulk issuance: {bulk} new Certificates through Pebble among the others")
    new = [
        certificate(
            f"new-{n}", namespaces[n % len(namespaces)], [f"new{n}-{random.randrange(10**9)}.example.test"], "pebble"
        )
        for n in range(bulk)
    ]
    by_namespace = collections.defaultdict(list)
    for manifest in new:
        by_namespace[manifest["metadata"]["namespace"]].append(manifest["metadata"]["name"])
    is_new = {(m["metadata"]["namespace"], m["metadata"]["name"]) for m in new}

    def mine(item: dict[str, Any]) -> bool:
        return (item["metadata"]["namespace"], item["metadata"]["name"]) in is_new

    started_wall = time.time()
    started = time.monotonic()
    cluster.create_all("new Certificates", (lambda m=m: m for m in new), bulk, say)
    applied = time.monotonic() - started
    done = wait_ready(cluster, namespaces, lambda i: mine(i) and ready_since(i) is not None, bulk, say)
    elapsed = time.monotonic() - started
    readies = sorted(ready_since(item) or 0 for item in done)
    per_certificate = [r - started_wall for r in readies]
    orders = sum(
        len([e for e in cluster.events(ns, "OrderCreated") if e["involvedObject"]["name"].startswith("new-")])
        for ns in namespaces
    )
    figures.update(
        {
            "bulk_apply_s": round(applied, 1),
            "bulk_all_ready_s": round(elapsed, 1),
            "bulk_certs_per_s": round(bulk / elapsed, 2),
            "first_ready_s": round(per_certificate[0], 1),
            "bulk_p50_s": round(statistics.median(per_certificate), 1),
            "bulk_p95_s": round(per_certificate[int(len(per_certificate) * 0.95) - 1], 1),
            "orders_per_certificate": round(orders / bulk, 3),
        }
    )
    say(
        f"  all Ready in {elapsed:.1f} s ({bulk / elapsed:.1f}/s), first after {per_certificate[0]:.1f} s "
        f"(Ready times to the second), p50 {figures['bulk_p50_s']} s, p95 {figures['bulk_p95_s']} s; "
        f"{orders} orders for {bulk} Certificates"
    )

    say(f"renewal wave: the CA's window of those {bulk} moved into the past")
    with ThreadPoolExecutor(max_workers=8) as pool:
        leaves = list(
            pool.map(lambda m: leaf_of(cluster, m["metadata"]["namespace"], f"{m['metadata']['name']}-tls"), new)
        )
        list(pool.map(lambda leaf: set_renewal_window_past(env, leaf), leaves))
    rss, hwm = rss_mib(operator_pid(operator))
    figures["rss_after_bulk_mib"], figures["rss_peak_mib"] = round(rss, 1), round(hwm, 1)
    say(f"  operator RSS {rss:.0f} MiB after the bulk issuance, peak {hwm:.0f} MiB since the restart")
    time.sleep(2)
    mark = audit_mark(env)
    operator.stop()
    operator.extra = (*operator.extra, "--ari-restart-spread=60")
    operator.start()
    started = time.monotonic()
    renewed = wait_ready(
        cluster, namespaces, lambda i: mine(i) and revision(i) >= 2 and ready_since(i) is not None, bulk, say
    )
    elapsed = time.monotonic() - started
    time.sleep(5)
    requests = operator_requests(env, mark)
    orders = sum(
        len([e for e in cluster.events(ns, "OrderCreated") if e["involvedObject"]["name"].startswith("new-")])
        for ns in namespaces
    )
    twice = sum(1 for item in renewed if revision(item) > 2)
    certificate_writes = sum(
        n
        for (verb, resource, _), n in requests.items()
        if verb in ("patch", "update") and resource == "certificates/status"
    )
    figures.update(
        {
            "renewal_wave_s": round(elapsed, 1),
            "renewal_wave_certs_per_s": round(bulk / elapsed, 2),
            "renewal_orders_per_certificate": round((orders - bulk) / bulk, 3),
            "renewal_renewed_twice": twice,
            "renewal_status_writes_per_certificate": round(certificate_writes / bulk, 2),
            "renewal_requests_by_kind": requests_table(requests),
            "renewal_writes_elsewhere": writes_elsewhere(env, mark, "new-"),
        }
    )
    _, hwm = rss_mib(operator_pid(operator))
    figures["rss_wave_peak_mib"] = round(hwm, 1)
    say(
        f"  {bulk} renewed in {elapsed:.1f} s after the restart ({bulk / elapsed:.1f}/s; the restart spreads its "
        f"ARI checks over 60 s); {orders - bulk} renewal orders, {twice} renewed twice, "
        f"{certificate_writes} status writes, {figures['renewal_writes_elsewhere']} writes to anything else"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--bulk", type=int, default=1000)
    parser.add_argument("--rest", type=float, default=300)
    parser.add_argument("--stand-in", action="store_true", help="Pods as stand-in processes, not on the real node")
    options = parser.parse_args()
    with Environment(real_node=not options.stand_in) as env:
        print(f"solver Pods run on {'the real node' if env.node else 'the stand-in kubelet'}", flush=True)
        install(env)
        operator = OperatorProcess(env)
        operator.start()
        time.sleep(3)
        figures = run(
            env, operator, options.count, lambda line: print(line, flush=True), bulk=options.bulk, rest=options.rest
        )
        print(json.dumps(figures, indent=2))
    env.remove_run_dir()  # about 1 GB of etcd data and audit logs at 10,000


if __name__ == "__main__":
    main()
