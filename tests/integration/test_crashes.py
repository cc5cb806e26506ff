"""A burst of Certificates with the operator SIGKILLed at random moments (issue 10, DESIGN §8).

Counted in Pebble's own record: exactly one order per Certificate, whatever moment the kills hit
(between ordering and recording it, mid-validation, after finalize, after the Secret is written);
and nothing left behind — no Challenge, solver Pod, Service or Ingress, no next-key Secret.
"""

from __future__ import annotations

import base64
import json
import random
import time

import josepy as jose
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from certwright.acme.client import AcmeClient
from certwright.acme.transport import Transport, new_session
from certwright.pki import keys as pki_keys
from certwright_env import Environment
from certwright_env.operator import OperatorProcess
from certwright_env.probes import eventually
from tests.reliability import record

from .certwright import (
    apply,
    certificate,
    get,
    issuer,
    leftovers,
    names,
    namespace,
    pebble_orders,
    ready_count,
    wait_issuer_ready,
    wait_ready,
)

BURST = 60


@pytest.mark.fault("operator SIGKILLed at random moments during a burst of 60")
@pytest.mark.parametrize("seed", [11, 23, 42])
def test_a_burst_killed_at_random_moments_orders_once_each_and_leaves_nothing(
    env: Environment, operator: OperatorProcess, seed: int, request: pytest.FixtureRequest
) -> None:
    chance = random.Random(seed)
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns))
    wait_issuer_ready(env, "pebble", ns)

    apply(env, *(certificate(f"burst-{i:02d}", ns, names(1), "pebble") for i in range(BURST)))
    kills = chance.choice([3, 4])
    for _ in range(kills):
        time.sleep(chance.uniform(0.2, 2.5))
        operator.kill()
        operator.start()

    eventually(lambda: ready_count(env, ns), lambda ready: ready == BURST, timeout=240, what=f"{BURST} Ready")
    eventually(lambda: leftovers(env, ns), lambda left: not left, timeout=30, what="no solver object is left")

    orders = pebble_orders(env, ns, "pebble-account")
    assert len(orders) == BURST, f"{len(orders)} orders for {BURST} Certificates (seed {seed}, {kills} kills)"
    items = json.loads(env.kubectl("get", "certificates", "-n", ns, "-o", "json").stdout)["items"]
    assert sorted(c["status"]["revision"] for c in items) == [1] * BURST
    record(request, issuances=BURST, orders=len(orders))


def test_an_order_placed_but_never_recorded_is_found_again_not_placed_twice(
    env: Environment, operator: OperatorProcess
) -> None:
    """What a kill between newOrder and the status patch leaves: the next-key Secret and a pending order
    at the CA, and nothing in status. Made here on purpose, since a random kill rarely lands there."""
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns))
    wait_issuer_ready(env, "pebble", ns)
    key_pem = base64.b64decode(get(env, "secret", "pebble-account", ns)["data"]["tls.key"])
    client = AcmeClient(
        Transport(env.pebble_directory_url, session=new_session(str(env.pebble_ca_bundle))),
        jose.JWKEC(key=pki_keys.key_from_pem(key_pem)),
    )
    client.find_account()
    dns_names = names(2)
    orphan = client.new_order(dns_names, profile="default")
    next_key = pki_keys.key_to_pem(ec.generate_private_key(ec.SECP256R1()))
    apply(
        env,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {"name": "lost-next-key", "namespace": ns, "labels": {"certwright.dev/managed": "true"}},
            "data": {"tls.key": base64.b64encode(next_key).decode()},
        },
    )

    apply(env, certificate("lost", ns, dns_names, "pebble"))
    wait_ready(env, "lost", ns)

    assert pebble_orders(env, ns, "pebble-account") == [orphan.url], "the unrecorded order was used, no other"
    assert not [s for s in leftovers(env, ns) if s.endswith("-next-key")]
