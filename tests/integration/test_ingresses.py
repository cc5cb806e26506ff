"""kubectl annotate ingress → a Certificate per TLS entry → Secrets; cert-manager's annotations too."""

from __future__ import annotations

import json
from typing import Any

import pytest

from certwright_env import Environment
from certwright_env.operator import OperatorProcess
from certwright_env.probes import eventually

from .certwright import (
    apply,
    condition,
    get,
    get_or_none,
    issuer,
    names,
    namespace,
    pebble_orders,
    secret_data,
    wait_ready,
)
from .conftest import DEFAULT_ISSUER


def _ingress(
    name: str, ns: str, tls: list[dict[str, Any]], annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": ns, "annotations": annotations or {}},
        "spec": {
            "ingressClassName": "nginx",
            "defaultBackend": {"service": {"name": "shop", "port": {"number": 80}}},
            "tls": tls,
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "shop", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
                for entry in tls
                for host in entry.get("hosts") or []
            ],
        },
    }


def _events(env: Environment, ns: str, reason: str) -> list[str]:
    items = json.loads(env.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
    return [e["message"] for e in items if e["reason"] == reason and e["involvedObject"]["kind"] == "Ingress"]


def _orders_created(env: Environment, ns: str) -> list[str]:
    """The operator's own record of orders placed in the namespace (one ``OrderCreated`` Event each)."""
    items = json.loads(env.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
    return [e["message"] for e in items if e["reason"] == "OrderCreated"]


def _exists(env: Environment, kind: str, name: str, ns: str) -> bool:
    return env.kubectl("get", kind, name, "-n", ns, check=False).returncode == 0


def test_an_annotated_ingress_gets_its_certificates_and_follows_its_tls_entries(
    env: Environment, operator: OperatorProcess
) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns))
    first, second = names(1), names(1)
    apply(
        env,
        _ingress("shop", ns, [{"hosts": first, "secretName": "shop-tls"}, {"hosts": second, "secretName": "api-tls"}]),
    )

    env.kubectl("annotate", "ingress", "shop", "-n", ns, "certwright.dev/issuer=pebble")

    shop = wait_ready(env, "shop-tls", ns)
    wait_ready(env, "api-tls", ns)
    assert shop["spec"]["dnsNames"] == first
    owner = shop["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Ingress", "shop", True)
    assert get(env, "secret", "shop-tls", ns)["type"] == "kubernetes.io/tls"
    assert len(_events(env, ns, "CreateCertificate")) == 2
    ingress = get(env, "ingress", "shop", ns)
    assert not [key for key in ingress["metadata"].get("annotations", {}) if "kopf" in key], (
        "no bookkeeping on the Ingress"
    )
    assert not ingress["metadata"].get("finalizers")

    added = names(1)
    apply(
        env,
        _ingress("shop", ns, [{"hosts": first + added, "secretName": "shop-tls"}], {"certwright.dev/issuer": "pebble"}),
    )

    eventually(lambda: get(env, "certificate", "shop-tls", ns)["spec"]["dnsNames"], lambda d: d == first + added)
    eventually(
        lambda: get(env, "certificate", "shop-tls", ns),
        lambda c: (
            c["status"].get("revision") == 2
            and any(x["type"] == "Ready" and x["status"] == "True" for x in c["status"]["conditions"])
        ),
        timeout=60,
        what="the Secret follows the added host",
    )
    eventually(
        lambda: _exists(env, "certificate", "api-tls", ns), lambda e: not e, what="the removed entry's Certificate goes"
    )
    assert _events(env, ns, "UpdateCertificate")
    assert _events(env, ns, "DeleteCertificate")

    env.kubectl("delete", "ingress", "shop", "-n", ns)

    eventually(
        lambda: _exists(env, "certificate", "shop-tls", ns),
        lambda e: not e,
        what="garbage collection takes the Certificate",
    )


@pytest.mark.parametrize(
    ("annotations", "kind", "issuer_name"),
    [
        ({"cert-manager.io/issuer": "pebble"}, "Issuer", "pebble"),
        ({"cert-manager.io/cluster-issuer": DEFAULT_ISSUER}, "ClusterIssuer", DEFAULT_ISSUER),
        ({"certwright.dev/cluster-issuer": DEFAULT_ISSUER}, "ClusterIssuer", DEFAULT_ISSUER),
        ({"kubernetes.io/tls-acme": "true"}, "ClusterIssuer", DEFAULT_ISSUER),
    ],
    ids=["cert-manager-issuer", "cert-manager-cluster-issuer", "certwright-cluster-issuer", "tls-acme-default"],
)
def test_migration_annotations_are_understood(
    env: Environment, operator: OperatorProcess, annotations: dict[str, str], kind: str, issuer_name: str
) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns), issuer(env, DEFAULT_ISSUER, None))
    apply(env, _ingress("legacy", ns, [{"hosts": names(1), "secretName": "legacy-tls"}], annotations))

    ready = wait_ready(env, "legacy-tls", ns)

    assert (ready["spec"]["issuerRef"]["kind"], ready["spec"]["issuerRef"]["name"]) == (kind, issuer_name)


@pytest.mark.parametrize(
    ("tls", "annotations", "says"),
    [
        (
            [{"hosts": ["a.example.test"], "secretName": "dup"}, {"hosts": ["b.example.test"], "secretName": "dup"}],
            {"certwright.dev/issuer": "pebble"},
            "uses secretName dup again",
        ),
        ([{"hosts": [], "secretName": "empty"}], {"certwright.dev/issuer": "pebble"}, "has no hosts"),
        ([{"hosts": ["a.example.test"]}], {"certwright.dev/issuer": "pebble"}, "has no secretName"),
        (
            [{"hosts": ["a.example.test"], "secretName": "both"}],
            {"certwright.dev/issuer": "pebble", "cert-manager.io/cluster-issuer": "other"},
            "the issuer annotations disagree",
        ),
        (
            [{"hosts": ["a.example.test"], "secretName": "renew"}],
            {"certwright.dev/issuer": "pebble", "certwright.dev/renew-before": "soon"},
            "is not a duration",
        ),
    ],
    ids=["duplicate-secret", "no-hosts", "no-secret-name", "conflicting-issuers", "bad-renew-before"],
)
def test_bad_configuration_is_reported_and_nothing_is_half_done(
    env: Environment, operator: OperatorProcess, tls: list[dict[str, Any]], annotations: dict[str, str], says: str
) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns), _ingress("bad", ns, tls, annotations))

    messages = eventually(lambda: _events(env, ns, "BadConfig"), bool, what="a BadConfig Event on the Ingress")

    assert any(says in message for message in messages), messages
    assert env.kubectl("get", "certificates", "-n", ns, "-o", "name").stdout.strip() == "", "nothing half-done"


def test_a_certificate_the_ingress_does_not_own_is_left_alone(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    host = names(1)
    mine = {
        "apiVersion": "certwright.dev/v1",
        "kind": "Certificate",
        "metadata": {"name": "mine-tls", "namespace": ns},
        "spec": {"secretName": "mine-tls", "dnsNames": names(1), "issuerRef": {"name": "pebble"}},
    }
    apply(env, issuer(env, "pebble", ns), mine)
    apply(env, _ingress("other", ns, [{"hosts": host, "secretName": "mine-tls"}], {"certwright.dev/issuer": "pebble"}))

    eventually(lambda: _events(env, ns, "CertificateNotOwned"), bool, what="an Event says why")

    assert get(env, "certificate", "mine-tls", ns)["spec"]["dnsNames"] == mine["spec"]["dnsNames"]
    assert not get(env, "certificate", "mine-tls", ns)["metadata"].get("ownerReferences")


def _ready_for(env: Environment, name: str, ns: str, ingress_uid: str, not_uid: str = "") -> dict[str, Any]:
    """The Certificate once it is Ready and controlled by the Ingress of ``ingress_uid`` (and is not the
    Certificate ``not_uid``, when given)."""

    def done(c: dict[str, Any]) -> bool:
        owners = [r["uid"] for r in c.get("metadata", {}).get("ownerReferences") or [] if r.get("controller")]
        fresh = c.get("metadata", {}).get("uid") not in ("", None, not_uid)
        return fresh and owners == [ingress_uid] and condition(c, "Ready").get("status") == "True"

    return eventually(
        lambda: get_or_none(env, "certificate", name, ns),
        done,
        timeout=30,
        what=f"Certificate {ns}/{name} is Ready and owned by Ingress uid {ingress_uid}",
    )


def test_a_certificate_deleted_by_hand_is_made_again_from_the_existing_secret(
    env: Environment, operator: OperatorProcess
) -> None:
    ns = namespace(env)
    hosts = names(1)
    apply(
        env,
        issuer(env, "pebble", ns),
        _ingress("shop", ns, [{"hosts": hosts, "secretName": "shop-tls"}], {"certwright.dev/issuer": "pebble"}),
    )
    first = wait_ready(env, "shop-tls", ns)
    issued = secret_data(env, "shop-tls", ns)["tls.crt"]
    assert len(pebble_orders(env, ns, "pebble-account")) == 1
    ingress_uid = get(env, "ingress", "shop", ns)["metadata"]["uid"]

    env.kubectl("delete", "certificate", "shop-tls", "-n", ns)

    again = _ready_for(env, "shop-tls", ns, ingress_uid, not_uid=first["metadata"]["uid"])
    assert again["spec"]["dnsNames"] == hosts
    assert secret_data(env, "shop-tls", ns)["tls.crt"] == issued, "the Secret's certificate is the one issued"
    assert len(_events(env, ns, "CreateCertificate")) == 2, "the Ingress made it again"
    assert len(_orders_created(env, ns)) == 1, "no new order, by the operator's Events"
    assert len(pebble_orders(env, ns, "pebble-account")) == 1, "no new order, by the CA's own record"


def test_an_ingress_created_again_takes_its_certificate_over_without_a_new_order(
    env: Environment, operator: OperatorProcess
) -> None:
    ns = namespace(env)
    manifest = _ingress(
        "shop", ns, [{"hosts": names(1), "secretName": "shop-tls"}], {"certwright.dev/issuer": "pebble"}
    )
    # A class no controller here serves: no status write wakes the Ingress later, as one might by chance.
    manifest["spec"]["ingressClassName"] = "unserved"
    apply(env, issuer(env, "pebble", ns), manifest)
    first = wait_ready(env, "shop-tls", ns)
    issued = secret_data(env, "shop-tls", ns)["tls.crt"]
    before = get(env, "ingress", "shop", ns)["metadata"]["uid"]

    env.kubectl("replace", "--force", "-f", "-", stdin=json.dumps(manifest))

    after = get(env, "ingress", "shop", ns)["metadata"]["uid"]
    assert after != before, "the Ingress was deleted and created again"
    now = _ready_for(env, "shop-tls", ns, after)
    adopted = [m for m in _events(env, ns, "UpdateCertificate") if "now belongs to this Ingress" in m]
    if now["metadata"]["uid"] == first["metadata"]["uid"]:
        assert len(adopted) == 1, "the same Certificate, taken over with one Event"
    else:  # the garbage collector was quicker: its deletion made the Ingress make it again
        assert len(_events(env, ns, "CreateCertificate")) == 2
    assert not _events(env, ns, "CertificateNotOwned"), "an earlier Ingress of the same name is no stranger"
    assert secret_data(env, "shop-tls", ns)["tls.crt"] == issued
    assert len(_orders_created(env, ns)) == 1, "no new order, by the operator's Events"
    assert len(pebble_orders(env, ns, "pebble-account")) == 1, "no new order, by the CA's own record"
