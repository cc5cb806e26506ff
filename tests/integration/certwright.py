"""What the certificate tests apply and read: Issuers, Certificates, Secrets, as a user would."""

from __future__ import annotations

import base64
import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import josepy as jose

from certwright.acme.client import AcmeClient
from certwright.acme.transport import Transport, new_session
from certwright.pki import certificates as pki_certificates
from certwright.pki import keys as pki_keys
from certwright_env import Environment
from certwright_env.probes import eventually


def apply(env: Environment, *objects: dict[str, Any]) -> None:
    env.kubectl("apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))


def namespace(env: Environment, labels: dict[str, str] | None = None) -> str:
    name = f"c-{uuid.uuid4().hex[:8]}"
    apply(env, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}})
    return name


def issuer(env: Environment, name: str, namespace: str | None, **acme: Any) -> dict[str, Any]:
    """An Issuer (or, without a namespace, a ClusterIssuer) for the environment's Pebble."""
    spec = {
        "server": env.pebble_directory_url,
        "email": "ops@example.test",
        "profile": "default",
        "caBundle": base64.b64encode(env.pebble_ca_bundle.read_bytes()).decode(),
        "privateKeySecretRef": {"name": f"{name}-account"},
        "solvers": [{"http01": {"ingress": {"ingressClassName": "nginx"}}}],
        **acme,
    }
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    kind = "Issuer" if namespace else "ClusterIssuer"
    return {"apiVersion": "certwright.dev/v1", "kind": kind, "metadata": metadata, "spec": {"acme": spec}}


def certificate(name: str, namespace: str, dns_names: list[str], issuer_name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "certwright.dev/v1",
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"secretName": f"{name}-tls", "dnsNames": dns_names, "issuerRef": {"name": issuer_name}, **spec},
    }


TSIG = "tsig"  # the Secret that holds the run's TSIG secret, in the issuer's Secret namespace


def tsig_secret(name: str, ns: str, value: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "data": {"secret": base64.b64encode(value.encode()).decode()},
    }


def rfc2136(env: Environment, *, secret_name: str = TSIG, **changes: Any) -> dict[str, Any]:
    """A dns01 solver entry for the environment's BIND, with settings changed or selector/selfCheck added."""
    outer = {key: changes.pop(key) for key in ("selector", "selfCheck", "cnameStrategy") if key in changes}
    settings = {
        "nameserver": env.bind.nameserver,
        "tsigKeyName": env.bind.tsig_key_name,
        "tsigAlgorithm": env.bind.tsig_algorithm,
        "tsigSecretSecretRef": {"name": secret_name, "key": "secret"},
        **changes,
    }
    dns01: dict[str, Any] = {"rfc2136": settings}
    if "cnameStrategy" in outer:
        dns01["cnameStrategy"] = outer.pop("cnameStrategy")
    return {"dns01": dns01, **outer}


def names(count: int = 1) -> list[str]:
    return [f"{uuid.uuid4().hex[:10]}.example.test" for _ in range(count)]


def events(env: Environment, namespace: str, reason: str) -> list[dict[str, Any]]:
    """The namespace's Events with ``reason``."""
    items: list[dict[str, Any]] = json.loads(env.kubectl("get", "events", "-n", namespace, "-o", "json").stdout)[
        "items"
    ]
    return [event for event in items if event["reason"] == reason]


def ready_count(env: Environment, namespace: str) -> int:
    """How many Certificates in the namespace are Ready (one list call)."""
    items = json.loads(env.kubectl("get", "certificates", "-n", namespace, "-o", "json").stdout)["items"]
    return sum(1 for c in items if condition(c, "Ready").get("status") == "True")


def get(env: Environment, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    where = ["-n", namespace] if namespace else []
    result: dict[str, Any] = json.loads(env.kubectl("get", kind, name, *where, "-o", "json").stdout)
    return result


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c["type"] == kind), {})


def get_or_none(env: Environment, kind: str, name: str, namespace: str) -> dict[str, Any]:
    """The object, or {} while it does not exist yet."""
    result = env.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    found: dict[str, Any] = json.loads(result.stdout) if result.returncode == 0 else {}
    return found


def wait_ready(env: Environment, name: str, namespace: str, timeout: float = 60) -> dict[str, Any]:
    return eventually(
        lambda: get_or_none(env, "certificate", name, namespace),
        lambda c: condition(c, "Ready").get("status") == "True",
        timeout=timeout,
        what=f"Certificate {namespace}/{name} becomes Ready",
    )


def wait_condition(
    env: Environment, name: str, namespace: str, kind: str, reason: str, timeout: float = 60
) -> dict[str, Any]:
    return eventually(
        lambda: get(env, "certificate", name, namespace),
        lambda c: condition(c, kind).get("reason") == reason,
        timeout=timeout,
        what=f"Certificate {namespace}/{name} has {kind} with reason {reason}",
    )


def secret_data(env: Environment, name: str, namespace: str) -> dict[str, bytes]:
    secret = get(env, "secret", name, namespace)
    return {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}


@contextlib.contextmanager
def account_client(
    env: Environment, namespace: str, account_secret: str, via: str | None = None
) -> Iterator[AcmeClient]:
    """An ACME client of the account whose key is in ``account_secret``, to read what Pebble itself
    holds (orders, authorizations) rather than what the operator says."""
    key_pem = base64.b64decode(get(env, "secret", account_secret, namespace)["data"]["tls.key"])
    key = jose.JWKEC(key=pki_keys.key_from_pem(key_pem))
    bundle = env.ca.cert_file if via else env.pebble_ca_bundle  # the fault proxy serves with the run's CA
    with new_session(str(bundle)) as session:
        # Pebble checks the account URL against the host asked: ask where the account was made (``via``).
        client = AcmeClient(Transport(via or env.pebble_directory_url, session=session), key)
        client.find_account()
        yield client


def pebble_orders(env: Environment, namespace: str, account_secret: str, via: str | None = None) -> list[str]:
    """The orders Pebble itself holds for the account (§7.1.2.1), to count orders by the CA's record as
    well as by the operator's Events; Pebble leaves invalid ones out."""
    with account_client(env, namespace, account_secret, via) as client:
        orders = client.order_urls()
    assert orders is not None, "Pebble keeps an orders list for each account"
    return orders


def orders(env: Environment, namespace: str, issuer_name: str = "pebble", via: str | None = None) -> int:
    """How many orders the CA holds for the Issuer's account (Pebble leaves invalid ones out)."""
    return len(pebble_orders(env, namespace, f"{issuer_name}-account", via))


def leaf_names(env: Environment, secret: str, namespace: str) -> list[str]:
    """The DNS names of the certificate in a TLS Secret, sorted."""
    leaf = pki_certificates.parse_chain(secret_data(env, secret, namespace)["tls.crt"])[0]
    return sorted(pki_certificates.certificate_info(leaf).dns_names)


def wait_issuer_ready(env: Environment, name: str, namespace: str) -> None:
    eventually(
        lambda: condition(get(env, "issuer", name, namespace), "Ready").get("status"),
        lambda status: status == "True",
        what=f"Issuer {namespace}/{name} becomes Ready",
    )


def operator_pods(env: Environment) -> list[dict[str, Any]]:
    """The operator's Pods (installed by the chart or the plain manifests) that are not terminating."""
    listed = env.kubectl("get", "pods", "-n", "certwright", "-l", "app.kubernetes.io/name=certwright", "-o", "json")
    return [p for p in json.loads(listed.stdout)["items"] if not p["metadata"].get("deletionTimestamp")]


def leftovers(env: Environment, ns: str) -> list[str]:
    """What an issuance leaves while it runs and must not leave after: Challenges, solver Pods, Services
    and Ingresses, next-key Secrets."""
    solver = env.kubectl(
        "get", "pods,services,ingresses", "-n", ns, "-l", "certwright.dev/solver=http01", "-o", "name"
    ).stdout.split()
    challenges = env.kubectl("get", "challenges", "-n", ns, "-o", "name").stdout.split()
    secrets = [
        s for s in env.kubectl("get", "secrets", "-n", ns, "-o", "name").stdout.split() if s.endswith("-next-key")
    ]
    return solver + challenges + secrets


def revisions(env: Environment, ns: str) -> list[int]:
    """Each Certificate's status.revision in the namespace (0: never issued), by name."""
    items = json.loads(env.kubectl("get", "certificates", "-n", ns, "-o", "json").stdout)["items"]
    return [
        int((c.get("status") or {}).get("revision") or 0) for c in sorted(items, key=lambda c: c["metadata"]["name"])
    ]


def lease_holder(env: Environment) -> str:
    """The holder identity of the Lease certwright-leader; "" while there is none (no Lease yet, or released)."""
    found = env.kubectl("get", "lease", "certwright-leader", "-n", "certwright", "-o", "json", check=False)
    if found.returncode != 0:
        return ""
    holder: str = (json.loads(found.stdout).get("spec") or {}).get("holderIdentity") or ""
    return holder


def leader_pod(env: Environment) -> str:
    """The operator Pod that holds the Lease, once one does (its identity is "<hostname>_<random>", and a
    Pod's hostname is its name)."""

    def leading() -> str | None:
        holder = lease_holder(env)
        pods = [pod["metadata"]["name"] for pod in operator_pods(env)]
        return next((name for name in pods if holder.startswith(f"{name}_")), None)

    name: str = eventually(leading, bool, timeout=60, what="an operator Pod holds the Lease")
    return name
