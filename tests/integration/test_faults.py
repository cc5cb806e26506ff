"""The fault matrix (issue 17): each row a test that counts, in Pebble's own record, one order per
issuance, and finds nothing left behind (no Challenge, solver Pod, Service, Ingress or next-key Secret)
and nothing half-written. Each says what it counted to the reliability summary at the end of the run.

Each fault, what must hold, and its test (``…`` stands for the rest of the name):

- operator SIGKILLed after the order is created, the challenge accepted, finalize, the Secret written:
  it resumes; one order; one certificate. ``test_a_kill_right_after_a_step_resumes_with_one_order``
- operator SIGKILLed at random moments during a burst of 60: one order each. ``test_crashes.py``
- the leader killed mid-issuance with a standby running: the standby completes it; one order.
  ``test_leader.py``
- kube-apiserver restarted mid-issuance: watches resume; it completes; no duplicate order.
  ``test_a_restarted_api_server_mid_issuance_…``
- Pebble stopped for 5 minutes, then started again: Ready stays True; a condition and an Event say
  why renewal fails; back-off, no retry storm (requests counted); it recovers by itself.
  ``test_five_minutes_without_the_ca_…``
- Pebble restarted (it forgets all orders and accounts): the account is registered again from its
  key; a new order succeeds. ``test_a_ca_that_forgot_every_account_…``
- the solver Pod deleted mid-challenge: made again; the challenge succeeds.
  ``test_a_solver_pod_deleted_mid_challenge_…``
- the operator Pod deleted by ``kubectl delete pod`` during a burst of 100 (real node, the chart): all
  Ready; orders = certificates. ``test_helm.py``
- 200 Certificates applied at once while the operator restarts twice: all Ready; orders =
  certificates. ``test_two_hundred_certificates_…``

A ``Hold`` in the fault proxy lets a request reach Pebble and keeps its answer back: the CA has acted,
the operator does not know yet, and that is when it is killed.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from certwright_env import Environment
from certwright_env.faultproxy import FaultProxy
from certwright_env.operator import OperatorProcess
from certwright_env.pebble import PebbleParts
from certwright_env.probes import eventually
from tests.reliability import record

from .certwright import (
    apply,
    certificate,
    condition,
    events,
    get,
    get_or_none,
    issuer,
    leaf_names,
    leftovers,
    names,
    namespace,
    pebble_orders,
    ready_count,
    revisions,
    wait_issuer_ready,
    wait_ready,
)

OUTAGE = 300  # seconds the CA is down: the five minutes


def via(env: Environment, proxy: FaultProxy, ns: str, name: str = "pebble") -> dict[str, Any]:
    """An Issuer whose ACME server is ``proxy`` (it serves with the run's CA)."""
    bundle = base64.b64encode(env.ca.cert_file.read_bytes()).decode()
    return issuer(env, name, ns, server=proxy.directory_url, caBundle=bundle)


def nothing_left(env: Environment, ns: str) -> list[str]:
    return eventually(lambda: leftovers(env, ns), lambda left: not left, timeout=60, what="nothing is left behind")


def log_size(operator: OperatorProcess) -> int:
    return operator.log.stat().st_size if operator.log else 0


def tracebacks(operator: OperatorProcess, since: int) -> list[str]:
    """Each traceback the operator logged after ``since`` (its log's size then), as the log line that
    introduced it and the exception it ended with."""
    assert operator.log is not None
    lines = operator.log.read_text(errors="replace")[since:].splitlines()
    found = []
    for at, line in enumerate(lines):
        if line.startswith("Traceback"):
            end = next((i for i in range(at + 1, len(lines)) if not lines[i].startswith((" ", "Traceback"))), at)
            found.append(f"{lines[at - 1] if at else ''} … {lines[end]}")
    return found


STEPS = {
    "the order is created": ("POST", "/order-plz"),
    "the challenge is accepted": ("POST", "/chalZ/"),
    "finalize": ("POST", "/finalize-order/"),
    "the Secret is written": None,
}


@pytest.mark.parametrize(
    "step",
    [pytest.param(step, marks=pytest.mark.fault(f"operator SIGKILLed after {step}")) for step in STEPS],
    ids=["ordered", "accepted", "finalized", "stored"],
)
def test_a_kill_right_after_a_step_resumes_with_one_order(
    env: Environment, operator: OperatorProcess, proxy: FaultProxy, request: pytest.FixtureRequest, step: str
) -> None:
    ns = namespace(env)
    apply(env, via(env, proxy, ns))
    wait_issuer_ready(env, "pebble", ns)
    dns_names = names(2)
    matching = STEPS[step]
    hold = proxy.hold(*matching) if matching else None

    apply(env, certificate("killed", ns, dns_names, "pebble"))
    if hold is not None:
        assert hold.reached.wait(90), f"the operator never got as far as: {step}"
    else:
        eventually(
            lambda: (get_or_none(env, "secret", "killed-tls", ns) or {}).get("data") or {},
            lambda data: bool(data.get("tls.crt")),
            timeout=90,
            what="the Secret is written",
        )
    operator.kill()
    if hold is not None:
        hold.release.set()  # Pebble's answer goes to a dead connection
    operator.start()

    ready = wait_ready(env, "killed", ns, timeout=120)
    left = nothing_left(env, ns)
    found = pebble_orders(env, ns, "pebble-account", via=proxy.directory_url)
    assert len(found) == 1, f"{len(found)} orders at the CA after a kill once {step}"
    assert ready["status"]["revision"] == 1, "one certificate"
    assert leaf_names(env, "killed-tls", ns) == sorted(dns_names)
    assert len(events(env, ns, "OrderCreated")) <= 1, "an order found again is not announced as created"
    record(request, issuances=1, orders=len(found), lost=len(left))


@pytest.mark.fault("kube-apiserver restarted mid-issuance")
def test_a_restarted_api_server_mid_issuance_resumes_its_watches_and_completes_with_one_order(
    env: Environment, operator: OperatorProcess, proxy: FaultProxy, request: pytest.FixtureRequest
) -> None:
    ns = namespace(env)
    apply(env, via(env, proxy, ns))
    wait_issuer_ready(env, "pebble", ns)
    since = log_size(operator)
    hold = proxy.hold("POST", "/chalZ/")
    apply(env, certificate("through", ns, names(1), "pebble"))
    assert hold.reached.wait(90), "the operator never accepted the challenge"

    # The CA's answer reaches the operator while the API server is away: the status it then writes,
    # and the watches it holds, meet a server that is not there.
    threading.Timer(2.0, hold.release.set).start()
    began = time.monotonic()
    env.restart_apiserver(down_for=5)
    back = time.monotonic() - began

    ready = wait_ready(env, "through", ns, timeout=180)
    left = nothing_left(env, ns)
    found = pebble_orders(env, ns, "pebble-account", via=proxy.directory_url)
    assert len(found) == 1
    assert ready["status"]["revision"] == 1
    assert operator.child is not None
    assert operator.child.running(), "the operator rode it out"
    assert not tracebacks(operator, since), "an API server away is expected, not a crash"

    later = names(1)  # the watches are live again: a Certificate created now is seen and issued
    apply(env, certificate("after", ns, later, "pebble"))
    wait_ready(env, "after", ns, timeout=60)
    both = pebble_orders(env, ns, "pebble-account", via=proxy.directory_url)
    record(request, issuances=2, orders=len(both), lost=len(left), api_server_away=f"{back:.0f} s")


@dataclass
class OwnCA:
    """A Pebble of the module's own, behind a fault proxy, that tests stop and start (it forgets every
    account and order when it starts again) without touching the session's Pebble."""

    pebble: PebbleParts
    proxy: FaultProxy

    def refused_since(self, moment: float) -> int:
        return sum(1 for seen in self.proxy.seen if seen.at >= moment and seen.answered_by == "refused")


@pytest.fixture(scope="module")
def own_ca(env: Environment) -> Iterator[OwnCA]:
    assert env.binaries is not None
    pebble = PebbleParts(env, env.binaries.pebble.parent, serve_http01=False, name="pebble-faults")
    pebble.nameserver = env.bind.nameserver
    pebble.start_pebble()
    proxy = FaultProxy(env, upstream_url=pebble.directory_url)
    proxy.start()
    yield OwnCA(pebble, proxy)
    proxy.stop()
    pebble.halt()


@pytest.mark.timeout(OUTAGE + 900)
@pytest.mark.fault("Pebble stopped for 5 minutes, then started again")
def test_five_minutes_without_the_ca_keep_the_certificate_ready_back_off_and_recover_by_themselves(
    env: Environment, operator: OperatorProcess, own_ca: OwnCA, request: pytest.FixtureRequest
) -> None:
    ns = namespace(env)
    apply(env, via(env, own_ca.proxy, ns), certificate("kept", ns, names(1), "pebble"))
    issued = wait_ready(env, "kept", ns, timeout=90)

    own_ca.pebble.halt()
    stopped = time.time()
    env.kubectl("annotate", "certificate", "kept", "-n", ns, "certwright.dev/renew=now")
    failing = eventually(
        lambda: get(env, "certificate", "kept", ns),
        lambda c: condition(c, "Issuing").get("status") == "False",
        timeout=60,
        what="the renewal attempt fails",
    )
    issuing = condition(failing, "Issuing")
    assert issuing["reason"] == "ACMEError", issuing
    assert "reach the ACME server" in issuing["message"], issuing["message"]
    assert "next attempt at" in issuing["message"]
    warned = [e for e in events(env, ns, "ACMEError") if e["type"] == "Warning"]
    assert warned, "an Event says the renewal fails"

    while time.time() < stopped + OUTAGE:
        during = get(env, "certificate", "kept", ns)
        assert condition(during, "Ready")["status"] == "True", "the current certificate is still valid"
        time.sleep(30)
    attempts = own_ca.refused_since(stopped)
    failures = int(get(env, "certificate", "kept", ns)["status"]["failedIssuanceAttempts"])
    assert attempts <= 5 * failures, f"{attempts} requests for {failures} attempts: each attempt gives up at once"
    assert failures <= 4, f"{failures} attempts in {OUTAGE} s: backed off (1, 2, 4 minutes)"

    waiting = get(env, "certificate", "kept", ns)["status"]
    print(
        f"after {OUTAGE} s without the CA: {attempts} requests, {failures} attempts; next {waiting['nextAttemptTime']}"
    )
    own_ca.pebble.resume()  # a new Pebble: it knows no account, order or certificate
    resumed = time.time()
    renewed = eventually(
        lambda: get(env, "certificate", "kept", ns),
        lambda c: c["status"].get("revision") == 2 and condition(c, "Ready").get("status") == "True",
        timeout=600,
        what="the renewal succeeds once the CA is back",
    )
    recovered = time.time() - resumed
    assert renewed["status"]["notAfter"] != issued["status"]["notAfter"]
    assert "nextAttemptTime" not in renewed["status"]
    left = nothing_left(env, ns)
    found = pebble_orders(env, ns, "pebble-account", via=own_ca.proxy.directory_url)
    assert len(found) == 1, "one order at the CA that came back"
    record(
        request,
        issuances=2,
        orders=len(events(env, ns, "OrderCreated")),
        lost=len(left),
        requests_while_down=f"{attempts} in {OUTAGE // 60} min ({failures} attempts)",
        recovered=f"{recovered:.0f} s after the CA was back",
    )


@pytest.mark.fault("Pebble restarted (it forgets all orders and accounts)")
def test_a_ca_that_forgot_every_account_sees_it_registered_again_from_its_key(
    env: Environment, operator: OperatorProcess, own_ca: OwnCA, request: pytest.FixtureRequest
) -> None:
    ns = namespace(env)
    apply(env, via(env, own_ca.proxy, ns), certificate("before", ns, names(1), "pebble"))
    wait_ready(env, "before", ns, timeout=90)
    account_before = get(env, "issuer", "pebble", ns)["status"]["acme"]["uri"]

    own_ca.pebble.halt()
    own_ca.pebble.resume()
    apply(env, certificate("after", ns, names(1), "pebble"))
    ready = wait_ready(env, "after", ns, timeout=90)

    assert ready["status"]["revision"] == 1
    account_after = eventually(
        lambda: get(env, "issuer", "pebble", ns)["status"]["acme"]["uri"],
        lambda uri: uri != account_before,
        what="the Issuer's status names the account registered again",
    )
    assert account_after.startswith(own_ca.proxy.directory_url.removesuffix("/dir"))
    assert condition(get(env, "certificate", "before", ns), "Ready")["status"] == "True"
    [lost] = events(env, ns, "AccountNotFound")  # one attempt met the CA without the account, no more
    assert "registers it again from its key" in lost["message"], lost["message"]
    found = pebble_orders(env, ns, "pebble-account", via=own_ca.proxy.directory_url)
    assert len(found) == 1, "the new CA holds the one new order, under the same key"
    left = nothing_left(env, ns)
    record(request, issuances=2, orders=len(events(env, ns, "OrderCreated")), lost=len(left))


def _solver_pods(env: Environment, ns: str) -> list[dict[str, Any]]:
    listed = env.kubectl("get", "pods", "-n", ns, "-l", "certwright.dev/solver=http01", "-o", "json")
    return [p for p in json.loads(listed.stdout)["items"] if not p["metadata"].get("deletionTimestamp")]


def _ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions") or [])


@pytest.mark.fault("the solver Pod deleted mid-challenge")
def test_a_solver_pod_deleted_mid_challenge_is_made_again_and_the_challenge_succeeds(
    env: Environment, operator: OperatorProcess, request: pytest.FixtureRequest
) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns))
    wait_issuer_ready(env, "pebble", ns)
    env.hold_validation()  # the CA's HTTP-01 requests wait at the ingress: the challenge stays in flight
    try:
        apply(env, certificate("solved", ns, names(1), "pebble"))
        [first] = eventually(
            lambda: _solver_pods(env, ns),
            lambda pods: len(pods) == 1 and _ready(pods[0]),
            timeout=90,
            what="the solver Pod is Ready",
        )
        env.kubectl("delete", "pod", first["metadata"]["name"], "-n", ns, "--wait=false")
        [second] = eventually(
            lambda: _solver_pods(env, ns),
            lambda pods: len(pods) == 1 and pods[0]["metadata"]["uid"] != first["metadata"]["uid"] and _ready(pods[0]),
            timeout=90,
            what="a new solver Pod is Ready",
        )
    finally:
        env.hold_validation(False)

    ready = wait_ready(env, "solved", ns, timeout=120)
    assert ready["status"]["revision"] == 1
    assert second["metadata"]["name"]
    left = nothing_left(env, ns)
    found = pebble_orders(env, ns, "pebble-account")
    assert len(found) == 1
    record(request, issuances=1, orders=len(found), lost=len(left))


@pytest.mark.fault("200 Certificates applied at once while the operator restarts twice")
def test_two_hundred_certificates_applied_while_the_operator_restarts_twice_order_once_each(
    env: Environment, operator: OperatorProcess, request: pytest.FixtureRequest
) -> None:
    count = 200
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns))
    wait_issuer_ready(env, "pebble", ns)

    began = time.monotonic()
    apply(env, *(certificate(f"many-{i:03d}", ns, names(1), "pebble") for i in range(count)))
    for pause in (3.0, 6.0):
        time.sleep(pause)
        operator.stop()  # SIGTERM, as a rolling update
        operator.start()

    eventually(lambda: ready_count(env, ns), lambda ready: ready == count, timeout=600, what=f"{count} Ready")
    took = time.monotonic() - began
    left = nothing_left(env, ns)
    found = pebble_orders(env, ns, "pebble-account")
    assert len(found) == count, f"{len(found)} orders for {count} Certificates"
    assert revisions(env, ns) == [1] * count
    record(request, issuances=count, orders=len(found), lost=len(left), all_ready=f"in {took:.0f} s")


def test_the_matrix_names_every_test_it_lists() -> None:
    """The list above stays true: each test it names here exists."""
    import tests.integration.test_faults as this

    named = re.findall(r"``(test_\w+)(?:…)?``", this.__doc__ or "")
    assert len(named) >= 6
    for prefix in named:
        assert any(name.startswith(prefix) for name in dir(this)), prefix
