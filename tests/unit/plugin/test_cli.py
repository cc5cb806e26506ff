"""Argument parsing, and the commands that only read or annotate, against a fake cluster."""

from __future__ import annotations

import base64
import datetime
import io
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certwright.domain import api
from certwright.pki.keys import key_to_pem
from certwright.plugin.cli import DEFAULT_SOLVER_IMAGE, parse_args, run
from certwright.plugin.errors import Forbidden, NoSuchObject

from ..pki.ca import EPOCH, TinyCA
from .fakes import FakeCluster

NOW = EPOCH + datetime.timedelta(days=10)


def certificate(name: str, namespace: str = "web", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "kind": "Certificate",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"secretName": f"{name}-tls", "dnsNames": [f"{name}.example.com"], "issuerRef": {"name": "le"}},
        "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "Issued"}]},
    }


def command(cluster: FakeCluster, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = run(parse_args(argv), cluster, "web", now=NOW, out=out)  # type: ignore[arg-type]
    return code, out.getvalue()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["list"], {"command": "list", "namespace": None, "all_namespaces": False, "output": "text"}),
        (
            ["list", "-A", "-o", "json", "-l", "team=web"],
            {"all_namespaces": True, "output": "json", "selector": "team=web"},
        ),
        (["status", "www", "-n", "shop"], {"name": "www", "namespace": "shop"}),
        (["inspect", "secret", "www-tls", "--ca-bundle", "ca.pem"], {"kind": "secret", "name": "www-tls"}),
        (["renew", "a", "b"], {"names": ["a", "b"], "all": False}),
        (["renew", "--all", "-A"], {"all": True, "all_namespaces": True}),
        (["status", "www", "--kubeconfig", "k", "--context", "c"], {"kubeconfig": "k", "context": "c"}),
        (
            ["check", "www"],
            {
                "solver_image": DEFAULT_SOLVER_IMAGE,
                "cluster_resource_namespace": "certwright",
                "timeout": None,
                "selfcheck_nameservers": "",
            },
        ),
        (["check", "www", "--timeout", "5", "--selfcheck-nameservers", "10.0.0.1:53"], {"timeout": 5.0}),
    ],
    ids=["list", "list-flags", "status", "inspect", "renew-names", "renew-all", "kubeconfig", "check", "check-flags"],
)
def test_parse_args(argv: list[str], expected: dict[str, Any]) -> None:
    parsed = vars(parse_args(argv))
    assert {key: parsed[key] for key in expected} == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["renew"],
        ["renew", "a", "--all"],
        ["renew", "--all", "-l", "x=y"],
        ["list", "-A", "-n", "x"],
        ["renew", "a", "-A"],
        ["list", "-o", "wide"],
        ["inspect", "www"],
    ],
    ids=[
        "renew-nothing",
        "renew-name-and-all",
        "renew-all-and-selector",
        "list-A-and-n",
        "renew-name-A",
        "bad-output",
        "inspect-without-kind",
    ],
)
def test_bad_usage_exits_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(argv)
    assert exited.value.code == 2


def test_list_as_json_in_the_namespace() -> None:
    cluster = FakeCluster(certificate("a"), certificate("b"), certificate("c", namespace="other"))
    code, out = command(cluster, "list", "-o", "json")
    assert code == 0
    assert [r["name"] for r in json.loads(out)] == ["a", "b"]
    assert [r["name"] for r in json.loads(command(cluster, "list", "-A", "-o", "json")[1])] == [
        "c",
        "a",
        "b",
    ]  # ties: by namespace


def test_renew_annotates_each_chosen_certificate_once() -> None:
    cluster = FakeCluster(certificate("a", labels={"team": "x"}), certificate("b"), certificate("c", namespace="o"))
    assert command(cluster, "renew", "--all")[0] == 0
    assert [(ns, name) for ns, name, _ in cluster.annotated] == [("web", "a"), ("web", "b")]
    assert {api.ANNOTATION_RENEW} == {key for _, _, annotations in cluster.annotated for key in annotations}
    cluster.annotated.clear()
    command(cluster, "renew", "-l", "team=x")
    assert [name for _, name, _ in cluster.annotated] == ["a"]


def test_renew_of_a_missing_certificate_changes_nothing() -> None:
    cluster = FakeCluster(certificate("a"))
    with pytest.raises(NoSuchObject, match='Certificate "nope" not found in namespace web'):
        command(cluster, "renew", "a", "nope")
    assert cluster.annotated == []


def test_status_reports_a_secret_it_may_not_read() -> None:
    cluster = FakeCluster(certificate("a"), forbidden=("secrets",))
    code, out = command(cluster, "status", "a", "-o", "json")
    report = json.loads(out)
    assert code == 0
    assert "forbidden: you may not get secrets in namespace web" in report["secret"]["error"]
    assert report["issuer"]["error"] == "does not exist"


def test_inspect_a_forbidden_secret_names_verb_resource_and_namespace() -> None:
    with pytest.raises(Forbidden, match="kubectl auth can-i get secrets -n web"):
        command(FakeCluster(forbidden=("secrets",)), "inspect", "secret", "a-tls")


def test_inspect_exits_1_on_a_problem() -> None:
    root = TinyCA.root()
    key = ec.generate_private_key(ec.SECP256R1())
    crt = root.issue(key).public_bytes(serialization.Encoding.PEM)
    secret = {
        "kind": "Secret",
        "metadata": {"name": "a-tls", "namespace": "web"},
        "data": {"tls.crt": base64.b64encode(crt).decode(), "tls.key": base64.b64encode(key_to_pem(key)).decode()},
    }
    assert command(FakeCluster(secret), "inspect", "secret", "a-tls")[0] == 0
    other = {
        **secret,
        "data": {
            **secret["data"],
            "tls.key": base64.b64encode(key_to_pem(ec.generate_private_key(ec.SECP256R1()))).decode(),
        },
    }
    code, out = command(FakeCluster(other), "inspect", "secret", "a-tls")
    assert code == 1
    assert "DOES NOT MATCH" in out
