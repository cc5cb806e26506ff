"""When the CA says wait, certwright waits; when the CA is down, the certificate stays Ready."""

from __future__ import annotations

import base64
import datetime

from certwright_env import Environment
from certwright_env.faultproxy import Fault, FaultProxy
from certwright_env.operator import OperatorProcess
from certwright_env.probes import eventually

from .certwright import (
    apply,
    certificate,
    condition,
    get,
    issuer,
    names,
    namespace,
    wait_condition,
    wait_issuer_ready,
    wait_ready,
)


def _via(env: Environment, proxy: FaultProxy, name: str, ns: str) -> dict[str, object]:
    return issuer(
        env, name, ns, server=proxy.directory_url, caBundle=base64.b64encode(env.ca.cert_file.read_bytes()).decode()
    )


def test_rate_limited_waits_for_the_cas_time_then_issues(
    env: Environment, operator: OperatorProcess, proxy: FaultProxy
) -> None:
    ns = namespace(env)
    apply(env, _via(env, proxy, "limited", ns))
    wait_issuer_ready(env, "limited", ns)
    proxy.faults.append(
        Fault("POST", "/order-plz", 429, "rateLimited", "too many new orders (300) in the last 3h0m0s", retry_after=15)
    )

    apply(env, certificate("limited", ns, names(1), "limited"))
    limited = wait_condition(env, "limited", ns, "Issuing", "RateLimited")
    message = condition(limited, "Issuing")["message"]
    assert "too many new orders" in message
    assert "certwright waits 15 s before asking again" in message
    assert f"next attempt at {limited['status']['nextAttemptTime']}" in message
    refused_at = next(s.at for s in proxy.seen if s.answered_by == "proxy")

    ready = wait_ready(env, "limited", ns, timeout=90)

    later = [s for s in proxy.seen if s.at > refused_at]
    assert later, "the issuance went on"
    assert min(s.at for s in later) >= refused_at + 15, "nothing reached the CA before its Retry-After"
    assert ready["status"]["revision"] == 1
    assert "nextAttemptTime" not in ready["status"]


def test_an_unreachable_ca_keeps_a_valid_certificate_ready_and_says_renewal_fails(
    env: Environment, operator: OperatorProcess, proxy: FaultProxy
) -> None:
    ns = namespace(env)
    apply(env, _via(env, proxy, "flaky", ns), certificate("kept", ns, names(1), "flaky"))
    issued = wait_ready(env, "kept", ns)
    proxy.faults.append(Fault("POST", "/", 503, "serverInternal", "the CA is down for maintenance", times=10_000))
    proxy.faults.append(Fault("HEAD", "/", 503, "serverInternal", "the CA is down for maintenance", times=10_000))

    env.kubectl("annotate", "certificate", "kept", "-n", ns, "certwright.dev/renew=now")
    failing = eventually(
        lambda: get(env, "certificate", "kept", ns),
        lambda c: (
            condition(c, "Issuing").get("status") == "False" and condition(c, "Issuing").get("reason") == "ACMEError"
        ),
        timeout=60,
        what="the renewal attempt fails",
    )

    assert condition(failing, "Ready")["status"] == "True", "the current certificate is still valid"
    assert "serverInternal" in condition(failing, "Issuing")["message"]
    assert failing["status"]["notAfter"] == issued["status"]["notAfter"]
    next_attempt = datetime.datetime.fromisoformat(failing["status"]["nextAttemptTime"].replace("Z", "+00:00"))
    assert next_attempt > datetime.datetime.now(datetime.UTC), "backed off"
    warnings = env.kubectl("get", "events", "-n", ns, "--field-selector", "type=Warning", "-o", "name").stdout
    assert warnings.strip(), "an Event says renewal is failing"
