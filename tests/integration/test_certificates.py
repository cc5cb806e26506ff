"""kubectl apply an Issuer and a Certificate → a Secret from Pebble, through HTTP-01 and the stand-in."""

from __future__ import annotations

import json
import urllib.request

import josepy as jose
import pytest
from cryptography import x509

from certwright.pki import certificates as pki_certificates
from certwright.pki import keys as pki_keys
from certwright_env import Environment
from certwright_env.operator import NAMESPACE, OperatorProcess
from certwright_env.probes import eventually

from .certwright import apply, certificate, condition, get, issuer, names, namespace, secret_data, wait_ready


def _pebble_root(env: Environment) -> x509.Certificate:
    with urllib.request.urlopen(f"{env.pebble_management_url}/roots/0", context=env.ssl_context(), timeout=5) as r:
        return x509.load_pem_x509_certificate(r.read())


def _leftovers(env: Environment, ns: str) -> str:
    return env.kubectl("get", "challenges,pods,services,ingresses", "-n", ns, "-o", "name").stdout.strip()


def test_a_certificate_becomes_a_secret_that_verifies(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    requested = names(2)
    apply(env, issuer(env, "pebble", ns), certificate("web", ns, requested, "pebble"))

    ready = wait_ready(env, "web", ns)

    data = secret_data(env, "web-tls", ns)
    secret = get(env, "secret", "web-tls", ns)
    assert secret["type"] == "kubernetes.io/tls"
    chain = pki_certificates.parse_chain(data["tls.crt"])
    info = pki_certificates.certificate_info(chain[0])
    assert sorted(info.dns_names) == sorted(requested)
    assert pki_certificates.key_matches_certificate(pki_keys.key_from_pem(data["tls.key"]), chain[0])
    assert pki_keys.key_spec_of(pki_keys.key_from_pem(data["tls.key"])) == pki_keys.KeySpec("ECDSA", 256)
    chain[0].verify_directly_issued_by(chain[1])
    chain[1].verify_directly_issued_by(_pebble_root(env))
    assert secret["metadata"]["labels"]["certwright.dev/certificate-name"] == "web"
    assert secret["metadata"]["annotations"]["certwright.dev/issuer-name"] == "pebble"
    status = ready["status"]
    assert status["notAfter"] == info.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert status["notBefore"] < status["renewalTime"] < status["notAfter"]
    assert status["revision"] == 1
    assert "order" not in status
    eventually(lambda: _leftovers(env, ns), lambda left: left == "", what="solver objects and Challenges are gone")

    table = env.kubectl("get", "certificate", "web", "-n", ns).stdout
    assert table.split("\n")[0].split() == ["NAME", "READY", "SECRET", "ISSUER", "EXPIRES", "RENEWS", "AGE"]
    assert table.split("\n")[1].split()[:4] == ["web", "True", "web-tls", "pebble"]
    described = env.kubectl("describe", "certificate", "web", "-n", ns).stdout
    assert "OrderCreated" in described
    assert "Issued" in described
    assert "Secret web-tls does not exist; created order https://" in described


@pytest.mark.parametrize(("algorithm", "size"), [("RSA", 2048), ("ECDSA", 384)])
def test_the_private_key_follows_the_spec(
    env: Environment, operator: OperatorProcess, algorithm: str, size: int
) -> None:
    ns = namespace(env)
    apply(
        env,
        issuer(env, "pebble", ns),
        certificate("key", ns, names(1), "pebble", privateKey={"algorithm": algorithm, "size": size}),
    )

    wait_ready(env, "key", ns)

    key = pki_keys.key_from_pem(secret_data(env, "key-tls", ns)["tls.key"])
    assert pki_keys.key_spec_of(key) == pki_keys.KeySpec(algorithm, size)


def test_a_cluster_issuer_serves_two_namespaces(env: Environment, operator: OperatorProcess) -> None:
    name = f"shared-{names(1)[0].split('.')[0]}"
    apply(env, issuer(env, name, None))
    first, second = namespace(env), namespace(env)
    cluster_ref = {"name": name, "kind": "ClusterIssuer"}
    apply(
        env,
        {
            **certificate("a", first, names(1), name),
            "spec": {**certificate("a", first, names(1), name)["spec"], "issuerRef": cluster_ref},
        },
        {
            **certificate("b", second, names(1), name),
            "spec": {**certificate("b", second, names(1), name)["spec"], "issuerRef": cluster_ref},
        },
    )

    wait_ready(env, "a", first)
    wait_ready(env, "b", second)

    assert get(env, "secret", f"{name}-account", NAMESPACE)["data"]["tls.key"]
    cluster_issuer = get(env, "clusterissuer", name)
    assert condition(cluster_issuer, "Ready")["status"] == "True"
    assert cluster_issuer["status"]["acme"]["uri"].startswith("https://")


def test_the_solver_pod_is_admitted_where_pod_security_is_restricted(
    env: Environment, operator: OperatorProcess
) -> None:
    ns = namespace(env, {"pod-security.kubernetes.io/enforce": "restricted"})
    apply(env, issuer(env, "pebble", ns), certificate("strict", ns, names(1), "pebble"))

    wait_ready(env, "strict", ns)

    events = env.kubectl("get", "events", "-n", ns, "-o", "json").stdout
    assert "violates PodSecurity" not in events


def _operator_output(env: Environment) -> str:
    return "\n".join(log.read_text(errors="replace") for log in env.log_dir.glob("operator*.log"))


def test_no_secret_material_reaches_logs_events_or_status(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns), certificate("quiet", ns, names(1), "pebble"))
    wait_ready(env, "quiet", ns)

    tls_key = secret_data(env, "quiet-tls", ns)["tls.key"]
    account_key = secret_data(env, "pebble-account", ns)["tls.key"]
    key_bodies = [b"".join(pem.strip().splitlines()[1:-1]).decode()[:40] for pem in (tls_key, account_key)]
    visible = "\n".join(
        [
            _operator_output(env),
            env.kubectl("get", "events", "-n", ns, "-o", "json").stdout,
            json.dumps(get(env, "certificate", "quiet", ns)),
            json.dumps(get(env, "issuer", "pebble", ns)),
        ]
    )
    for body in key_bodies:
        assert body not in visible
    assert "PRIVATE KEY" not in visible
    # A key authorization is "<token>.<account key thumbprint>"; the thumbprint must not show anywhere.
    account = pki_keys.key_from_pem(account_key)
    thumbprint = jose.encode_b64jose(jose.JWKEC(key=account).thumbprint())
    assert thumbprint not in visible
