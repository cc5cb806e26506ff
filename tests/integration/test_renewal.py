"""Keeping certificates valid: scheduled renewal, ARI, Secret repair, forced renewal, quiet restarts."""

from __future__ import annotations

import base64
import datetime
import json
import time
import urllib.request
from typing import Any

from certwright.acme import ari
from certwright.pki import certificates as pki_certificates
from certwright.pki import keys as pki_keys
from certwright_env import Environment
from certwright_env.operator import NAMESPACE, SERVICE_ACCOUNT, OperatorProcess
from certwright_env.probes import eventually

from .certwright import apply, certificate, condition, get, issuer, names, namespace, secret_data, wait_ready


def _events(env: Environment, ns: str, reason: str) -> list[dict[str, Any]]:
    items = json.loads(env.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
    return [event for event in items if event["reason"] == reason]


def _revision(env: Environment, name: str, ns: str, revision: int, timeout: float = 90) -> dict[str, Any]:
    return eventually(
        lambda: get(env, "certificate", name, ns),
        lambda c: (c.get("status") or {}).get("revision") == revision and condition(c, "Ready").get("status") == "True",
        timeout=timeout,
        what=f"Certificate {ns}/{name} reaches revision {revision}",
    )


def _leaf(env: Environment, name: str, ns: str) -> Any:
    return pki_certificates.parse_chain(secret_data(env, f"{name}-tls", ns)["tls.crt"])[0]


def test_a_short_certificate_is_renewed_before_it_expires(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    apply(
        env,
        issuer(env, "short", ns, profile="ninetyseconds"),
        certificate("short", ns, names(1), "short", renewBefore="50s"),  # renew 40 s after issuance
    )
    first = wait_ready(env, "short", ns)
    first_leaf = _leaf(env, "short", ns)
    table = env.kubectl("get", "certificate", "short", "-n", ns).stdout
    assert first["status"]["renewalTime"] in table, "RENEWS is shown by kubectl get"

    second = _revision(env, "short", ns, 2, timeout=120)

    second_leaf = _leaf(env, "short", ns)
    assert second_leaf.serial_number != first_leaf.serial_number
    assert second_leaf.not_valid_after_utc > first_leaf.not_valid_after_utc
    assert second["status"]["notAfter"] > first["status"]["notAfter"]
    assert any("renewal was due" in event["message"] for event in _events(env, ns, "OrderCreated"))


def _set_renewal_info(env: Environment, leaf: Any, answer: str) -> None:
    from cryptography.hazmat.primitives import serialization

    body = json.dumps({"Certificate": leaf.public_bytes(serialization.Encoding.PEM).decode(), "ARIResponse": answer})
    request = urllib.request.Request(f"{env.pebble_management_url}/set-renewal-info/", data=body.encode())
    with urllib.request.urlopen(request, context=env.ssl_context(), timeout=10) as response:
        assert response.status == 200


def _window(start: datetime.datetime, end: datetime.datetime, explanation: str | None = None) -> str:
    window: dict[str, Any] = {
        "suggestedWindow": {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "end": end.strftime("%Y-%m-%dT%H:%M:%SZ")}
    }
    if explanation:
        window["explanationURL"] = explanation
    return json.dumps(window)


def test_ari_windows_decide_when_to_renew(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    now = datetime.datetime.now(datetime.UTC)
    apply(
        env,
        issuer(env, "pebble", ns),
        certificate("past", ns, names(1), "pebble"),
        certificate("ahead", ns, names(1), "pebble"),
        certificate("broken", ns, names(1), "pebble"),
    )
    for name in ("past", "ahead", "broken"):
        ready = wait_ready(env, name, ns)
        window = ready["status"].get("lastRenewalInfo") or eventually(
            lambda name=name: get(env, "certificate", name, ns)["status"].get("lastRenewalInfo"),
            bool,
            what=f"{name}: the CA's window is recorded",
        )
        assert window["start"] <= get(env, "certificate", name, ns)["status"]["renewalTime"] <= window["end"]
    past_leaf = _leaf(env, "past", ns)
    _set_renewal_info(
        env,
        past_leaf,
        _window(now - datetime.timedelta(days=2), now - datetime.timedelta(days=1), "https://ca.example/incident"),
    )
    ahead_start = now + datetime.timedelta(days=40)
    _set_renewal_info(env, _leaf(env, "ahead", ns), _window(ahead_start, ahead_start + datetime.timedelta(days=1)))
    _set_renewal_info(env, _leaf(env, "broken", ns), "{not json")

    # The operator asks again after the CA's Retry-After (6 h) or, as here, after a restart: within
    # --ari-restart-spread of it (one hour by default; at once here).
    usual = operator.extra
    operator.extra = (*usual, "--ari-restart-spread=0")
    operator.kill()
    operator.start()
    operator.extra = usual  # the next restart, by any test, is an ordinary one

    renewed = _revision(env, "past", ns, 2)
    orders = [e["message"] for e in _events(env, ns, "OrderCreated") if e["involvedObject"]["name"] == "past"]
    assert any(f"it replaces {ari.cert_id(past_leaf)}" in message for message in orders), orders
    assert renewed["status"]["revision"] == 2
    assert any("https://ca.example/incident" in e["message"] for e in _events(env, ns, "RenewalInfo"))

    ahead = eventually(
        lambda: get(env, "certificate", "ahead", ns),
        lambda c: c["status"]["renewalTime"] >= ahead_start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        what="the renewal moves into the far window",
    )
    assert ahead["status"]["revision"] == 1

    fallback = eventually(
        lambda: [e for e in _events(env, ns, "ACMEError") if e["involvedObject"]["name"] == "broken"],
        bool,
        what="an unusable ARI answer is reported",
    )
    assert "renewing by the default rule" in fallback[0]["message"]
    assert get(env, "certificate", "broken", ns)["status"]["revision"] == 1


def test_a_deleted_secret_is_issued_again(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns), certificate("gone", ns, names(1), "pebble"))
    wait_ready(env, "gone", ns)

    env.kubectl("delete", "secret", "gone-tls", "-n", ns)

    _revision(env, "gone", ns, 2)
    assert secret_data(env, "gone-tls", ns)["tls.crt"]


def test_a_replaced_key_is_issued_again(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns), certificate("swapped", ns, names(1), "pebble"))
    wait_ready(env, "swapped", ns)
    stranger = pki_keys.key_to_pem(pki_keys.generate_key(pki_keys.KeySpec.default()))

    env.kubectl(
        "patch",
        "secret",
        "swapped-tls",
        "-n",
        ns,
        "--type=merge",
        "-p",
        json.dumps({"data": {"tls.key": base64.b64encode(stranger).decode()}}),
    )

    _revision(env, "swapped", ns, 2)
    data = secret_data(env, "swapped-tls", ns)
    leaf = pki_certificates.parse_chain(data["tls.crt"])[0]
    assert pki_certificates.key_matches_certificate(pki_keys.key_from_pem(data["tls.key"]), leaf)
    triggers = [e["message"] for e in _events(env, ns, "OrderCreated")]
    assert any("does not match its certificate" in message for message in triggers)


def test_removed_labels_are_restored_without_a_new_order(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    apply(
        env,
        issuer(env, "pebble", ns),
        certificate("labelled", ns, names(1), "pebble", secretTemplate={"labels": {"team": "web"}}),
    )
    wait_ready(env, "labelled", ns)

    env.kubectl("label", "secret", "labelled-tls", "-n", ns, "team-", "certwright.dev/managed-")

    restored = eventually(
        lambda: get(env, "secret", "labelled-tls", ns)["metadata"].get("labels") or {},
        lambda labels: labels.get("team") == "web" and labels.get("certwright.dev/managed") == "true",
        what="both labels are back",
    )
    assert restored["team"] == "web"
    assert len(_events(env, ns, "OrderCreated")) == 1, "no new order"
    assert get(env, "certificate", "labelled", ns)["status"]["revision"] == 1


def test_a_forced_renewal_issues_once(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns), certificate("forced", ns, names(1), "pebble"))
    wait_ready(env, "forced", ns)

    env.kubectl("annotate", "certificate", "forced", "-n", ns, "certwright.dev/renew=now")

    _revision(env, "forced", ns, 2)
    annotations = get(env, "certificate", "forced", ns)["metadata"].get("annotations") or {}
    assert "certwright.dev/renew" not in annotations
    time.sleep(2)  # nothing more happens: the annotation acted once
    assert get(env, "certificate", "forced", ns)["status"]["revision"] == 2
    assert len(_events(env, ns, "OrderCreated")) == 2


def _writes_since(env: Environment, line: int, ns: str) -> list[str]:
    """The operator's writes in namespace ``ns`` (other tests leave Certificates that are legitimately due)."""
    user = f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"
    writes = []
    with env.audit_log.open() as log:
        for number, text in enumerate(log):
            if number < line:
                continue
            event = json.loads(text)
            if (
                event["stage"] == "ResponseComplete"
                and event["user"]["username"] == user
                and event["verb"] in ("create", "update", "patch", "delete")
                and f"/namespaces/{ns}/" in event["requestURI"]
            ):
                writes.append(f"{event['verb']} {event['requestURI']}")
    return writes


def test_a_restart_with_ready_certificates_writes_nothing(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns), *(certificate(f"calm-{n}", ns, names(1), "pebble") for n in range(3)))
    for n in range(3):
        wait_ready(env, f"calm-{n}", ns)
        eventually(lambda n=n: get(env, "certificate", f"calm-{n}", ns)["status"].get("lastRenewalInfo"), bool)
    time.sleep(2)
    with env.audit_log.open() as log:
        mark = sum(1 for _ in log)

    operator.kill()
    operator.start()
    time.sleep(8)  # start-up, the initial listing of every watched resource, one reconcile each

    assert _writes_since(env, mark, ns) == []
    for n in range(3):
        assert get(env, "certificate", f"calm-{n}", ns)["status"]["revision"] == 1
