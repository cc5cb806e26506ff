"""An Issuer's Ready says whether its ACME account is usable and, if not, why."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from certwright_env import AcmeEnvironment, Environment
from certwright_env.operator import OperatorProcess
from certwright_env.probes import eventually
from certwright_env.tlsfiles import RunCA

from .certwright import apply, certificate, condition, get, issuer, names, namespace, wait_ready


def _wait_issuer(env: Environment, name: str, ns: str, status: str) -> dict[str, object]:
    return eventually(
        lambda: get(env, "issuer", name, ns),
        lambda i: condition(i, "Ready").get("status") == status,
        what=f"Issuer {ns}/{name} Ready={status}",
    )


def test_a_ca_bundle_of_another_ca_fails_with_a_tls_reason(
    env: Environment, operator: OperatorProcess, tmp_path: object
) -> None:
    ns = namespace(env)
    other = RunCA(env.run_dir / f"other-ca-{ns}", "unrelated")
    apply(env, issuer(env, "wrong-ca", ns, caBundle=base64.b64encode(other.cert_file.read_bytes()).decode()))

    failed = _wait_issuer(env, "wrong-ca", ns, "False")

    ready = condition(failed, "Ready")
    assert ready["reason"] == "AccountFailed"
    assert "TLS verification of https://" in ready["message"]
    assert "certificate verify failed" in ready["message"]


def test_an_unreachable_server_is_named(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "nowhere", ns, server=f"https://{env.address}:1/directory"))

    failed = _wait_issuer(env, "nowhere", ns, "False")

    assert f"cannot reach the ACME server at https://{env.address}:1/directory" in condition(failed, "Ready")["message"]


def test_a_changed_email_updates_the_account(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "mail", ns, email="first@example.test"))
    first = _wait_issuer(env, "mail", ns, "True")

    apply(env, issuer(env, "mail", ns, email="second@example.test"))
    second = eventually(
        lambda: get(env, "issuer", "mail", ns),
        lambda i: (i.get("status") or {}).get("acme", {}).get("lastRegisteredEmail") == "second@example.test",
        what="the account's contact follows the email",
    )

    assert second["status"]["acme"]["uri"] == first["status"]["acme"]["uri"], "the same account, updated"


MAC_KEY = base64.urlsafe_b64encode(b"certwright-integration-eab-key".ljust(32, b"k")).decode().rstrip("=")


@pytest.fixture(scope="module")
def eab_pebble() -> Iterator[AcmeEnvironment]:
    stack = AcmeEnvironment(
        pebble_config={"externalAccountBindingRequired": True, "externalAccountMACKeys": {"kid-7": MAC_KEY}}
    )
    stack.start()
    yield stack
    stack.stop()
    stack.remove_run_dir()


def test_external_account_binding_is_required_then_used(
    env: Environment, operator: OperatorProcess, eab_pebble: AcmeEnvironment
) -> None:
    ns = namespace(env)
    bundle = base64.b64encode(eab_pebble.ca_bundle.read_bytes()).decode()
    plain = issuer(env, "eab", ns, server=eab_pebble.directory_url, caBundle=bundle)
    apply(env, plain)

    refused = _wait_issuer(env, "eab", ns, "False")
    assert "set spec.acme.externalAccountBinding" in condition(refused, "Ready")["message"]

    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "eab-mac", "namespace": ns},
        "stringData": {"secret": MAC_KEY},
    }
    bound = issuer(
        env,
        "eab",
        ns,
        server=eab_pebble.directory_url,
        caBundle=bundle,
        externalAccountBinding={"keyID": "kid-7", "keySecretRef": {"name": "eab-mac"}},
    )
    apply(env, secret, bound)

    _wait_issuer(env, "eab", ns, "True")
    events = env.kubectl("get", "events", "-n", ns, "-o", "json").stdout
    assert MAC_KEY not in events


def test_a_self_check_that_waits_instead_still_issues(env: Environment, operator: OperatorProcess) -> None:
    """For hairpin-NAT clusters, where the operator cannot reach its own ingress."""
    ns = namespace(env)
    solvers = [{"http01": {"ingress": {"ingressClassName": "nginx"}}, "selfCheck": {"mode": "Wait", "waitSeconds": 1}}]
    labels = {"team": "web"}
    apply(
        env,
        issuer(env, "hairpin", ns, solvers=solvers),
        certificate("waited", ns, names(1), "hairpin", secretTemplate={"labels": labels}),
    )

    wait_ready(env, "waited", ns)

    secret = get(env, "secret", "waited-tls", ns)
    assert secret["metadata"]["labels"]["team"] == "web"
    annotations = get(env, "certificate", "waited", ns)["metadata"].get("annotations") or {}
    assert not [key for key in annotations if "kopf" in key], "no kopf bookkeeping on users' objects"
