"""DNS-01 end to end: the operator writes TXT records into the environment's real BIND through RFC 2136
(or a plug-in installed as its own package), Pebble validates them by asking BIND, and nothing of
ours is left in the zone afterwards — also when the operator is killed mid-issuance."""

from __future__ import annotations

import base64
import json
import random
import time
import uuid
from typing import Any

import pytest

from certwright_env import Environment
from certwright_env.operator import NAMESPACE, OperatorProcess
from certwright_env.probes import eventually

from .certwright import (
    account_client,
    apply,
    certificate,
    condition,
    events,
    get,
    get_or_none,
    issuer,
    leaf_names,
    namespace,
    orders,
    ready_count,
    rfc2136,
    tsig_secret,
    wait_condition,
    wait_issuer_ready,
    wait_ready,
)


def label() -> str:
    return f"d{uuid.uuid4().hex[:8]}"


def dns_issuer(env: Environment, ns: str, *solvers: dict[str, Any], **acme: Any) -> list[dict[str, Any]]:
    """An Issuer named pebble with the given solvers (one rfc2136 solver by default) and its TSIG Secret."""
    return [
        tsig_secret("tsig", ns, env.bind.tsig_secret),
        issuer(env, "pebble", ns, solvers=list(solvers) or [rfc2136(env)], **acme),
    ]


def txt(env: Environment, fqdn: str) -> list[str]:
    return env.bind.query(fqdn, "TXT")


def challenges(env: Environment, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(env.kubectl("get", "challenges", "-n", ns, "-o", "json").stdout)["items"]
    return items


def validated_types(env: Environment, ns: str) -> dict[str, str]:
    """Name → the challenge type the CA validated, read from Pebble's own authorizations (Issuer pebble)."""
    found = {}
    with account_client(env, ns, "pebble-account") as client:
        for url in client.order_urls() or []:
            for authorization_url in client.order(url).body.authorizations:
                body = client.authorization(authorization_url).body
                name = ("*." if body.wildcard else "") + body.identifier.value
                for answered in (c for c in body.challenges if c.status == "valid"):
                    found[name] = answered.type
    return found


def test_a_wildcard_and_its_apex_are_issued_through_a_cluster_issuer_leaving_only_others_records(
    env: Environment, operator: OperatorProcess
) -> None:
    ns, base = namespace(env), f"{label()}.example.test"
    fqdn = f"_acme-challenge.{base}."
    env.bind.update("example.test", add=[(fqdn, 60, "TXT", "someone-else")])
    name = f"dns01-{label()}"
    cluster_issuer = issuer(env, name, None, solvers=[rfc2136(env, secret_name=name)])
    cluster_issuer["spec"]["acme"]["privateKeySecretRef"] = {"name": f"{name}-account"}
    apply(env, tsig_secret(name, NAMESPACE, env.bind.tsig_secret), cluster_issuer)
    wanted = certificate("wild", ns, [f"*.{base}", base], name)
    wanted["spec"]["issuerRef"]["kind"] = "ClusterIssuer"
    apply(env, wanted)

    ready = wait_ready(env, "wild", ns)

    assert leaf_names(env, "wild-tls", ns) == sorted([f"*.{base}", base])
    assert ready["status"]["revision"] == 1
    assert txt(env, fqdn) == ['"someone-else"'], "our two values are gone, the other one stays"
    assert eventually(lambda: challenges(env, ns), lambda found: not found, what="no Challenge is left") == []
    assert len(events(env, ns, "OrderCreated")) == 1


def test_one_issuer_solves_http01_for_one_zone_and_dns01_for_another(
    env: Environment, operator: OperatorProcess
) -> None:
    ns = namespace(env)
    over_http, over_dns = f"{label()}.example.com", f"{label()}.example.test"
    http01 = {"selector": {"dnsZones": ["example.com"]}, "http01": {"ingress": {"ingressClassName": "nginx"}}}
    apply(
        env,
        *dns_issuer(env, ns, http01, rfc2136(env, selector={"dnsZones": ["example.test"]})),
        certificate("mixed", ns, [over_http, over_dns], "pebble"),
    )

    wait_ready(env, "mixed", ns)

    assert validated_types(env, ns) == {over_http: "http-01", over_dns: "dns-01"}
    assert txt(env, f"_acme-challenge.{over_dns}.") == []


def test_a_cname_at_acme_challenge_is_followed_into_a_delegated_zone(
    env: Environment, operator: OperatorProcess
) -> None:
    ns, name = namespace(env), f"{label()}.example.test"
    target = f"{label()}.delegated.test."
    env.bind.update("example.test", add=[(f"_acme-challenge.{name}.", 60, "CNAME", target)])
    apply(env, *dns_issuer(env, ns, rfc2136(env, cnameStrategy="Follow")), certificate("cname", ns, [name], "pebble"))

    wait_ready(env, "cname", ns)

    assert validated_types(env, ns) == {name: "dns-01"}
    assert env.bind.query(f"_acme-challenge.{name}.", "CNAME") == [target], "the user's CNAME stays"
    assert txt(env, target) == [], "the record in the delegated zone is gone"


@pytest.mark.parametrize(
    ("changes", "zone", "reason", "says"),
    [
        ({"secret": "x" * 44}, "example.test", "TSIGRefused", "(BADSIG)"),
        ({"tsigKeyName": "nobody."}, "example.test", "TSIGRefused", "(BADKEY)"),
        ({}, "nothere.test", "DNSZoneNotServed", "no zone below the root holds _acme-challenge."),
        ({}, "readonly.test", "DNSUpdateRefused", "(REFUSED)"),
        ({"nameserver": "127.0.0.1:1"}, "example.test", "DNSNameserverUnreachable", "127.0.0.1:1 did not answer"),
    ],
    ids=["wrong-secret", "unknown-key", "zone-not-served", "zone-refuses-updates", "unreachable"],
)
def test_a_dns_failure_is_ready_false_with_its_reason_and_an_event(
    env: Environment, operator: OperatorProcess, changes: dict[str, Any], zone: str, reason: str, says: str
) -> None:
    ns, name = namespace(env), f"{label()}.{zone}"
    apply(
        env,
        tsig_secret("tsig", ns, changes.pop("secret", env.bind.tsig_secret)),
        issuer(env, "pebble", ns, solvers=[rfc2136(env, **changes)]),
        certificate("broken", ns, [name], "pebble"),
    )

    failed = wait_condition(env, "broken", ns, "Ready", reason)

    message = condition(failed, "Ready")["message"]
    assert says in message
    assert f"DNS-01 for {name}" in message
    assert events(env, ns, reason), f"a Warning Event with reason {reason}"
    everything = json.dumps([failed, events(env, ns, reason)])
    assert env.bind.tsig_secret not in everything, "the TSIG secret appears nowhere"
    assert txt(env, f"_acme-challenge.{name}.") == []
    assert eventually(lambda: challenges(env, ns), lambda found: not found, what="no Challenge is left") == []


def test_fixing_the_tsig_secret_heals_the_certificate_on_its_next_attempt(
    env: Environment, operator: OperatorProcess
) -> None:
    ns, name = namespace(env), f"{label()}.example.test"
    wrong = base64.b64encode(b"w" * 32).decode()
    apply(
        env,
        tsig_secret("tsig", ns, wrong),
        issuer(env, "pebble", ns, solvers=[rfc2136(env)]),
        certificate("heal", ns, [name], "pebble"),
    )
    wait_condition(env, "heal", ns, "Ready", "TSIGRefused")

    apply(env, tsig_secret("tsig", ns, env.bind.tsig_secret))  # the only change: the Secret's content

    ready = wait_ready(env, "heal", ns, timeout=120)  # the first retry comes a minute after the failure
    assert ready["status"]["revision"] == 1
    assert orders(env, ns) == 1, "the order of the failed attempt is the one completed"
    assert txt(env, f"_acme-challenge.{name}.") == []


def _presented(env: Environment, ns: str, count: int = 1) -> list[dict[str, Any]]:
    """The namespace's ``count`` Challenges once each has its record (the second may not exist yet)."""
    return eventually(
        lambda: challenges(env, ns),
        lambda found: len(found) == count and all((c.get("status") or {}).get("state") == "presented" for c in found),
        what=f"{count} Challenges are presented",
    )


def test_an_operator_killed_after_the_record_is_added_completes_the_same_order_and_removes_it(
    env: Environment, operator: OperatorProcess
) -> None:
    ns, base = namespace(env), f"{label()}.example.test"
    fqdn = f"_acme-challenge.{base}."
    waiting = rfc2136(env, selfCheck={"mode": "Wait", "waitSeconds": 5})  # a window between add and accept
    apply(env, *dns_issuer(env, ns, waiting), certificate("killed", ns, [f"*.{base}", base], "pebble"))
    presented = _presented(env, ns, count=2)
    assert len(txt(env, fqdn)) == len(presented) == 2

    operator.kill()
    operator.start()

    ready = wait_ready(env, "killed", ns)
    assert ready["status"]["revision"] == 1
    assert orders(env, ns) == 1, "the restarted operator resumed the order"
    assert txt(env, fqdn) == []
    assert eventually(lambda: challenges(env, ns), lambda found: not found, what="no Challenge is left") == []


def test_a_certificate_deleted_while_the_operator_is_down_leaves_no_record(
    env: Environment, operator: OperatorProcess
) -> None:
    ns, name = namespace(env), f"{label()}.example.test"
    fqdn = f"_acme-challenge.{name}."
    waiting = rfc2136(env, selfCheck={"mode": "Wait", "waitSeconds": 30})
    apply(env, *dns_issuer(env, ns, waiting), certificate("gone", ns, [name], "pebble"))
    (presented,) = _presented(env, ns)
    assert presented["metadata"]["finalizers"] == ["certwright.dev/dns-record"]

    operator.kill()
    try:
        env.kubectl("delete", "certificate", "gone", "-n", ns, "--wait=false")
        held = eventually(
            lambda: get_or_none(env, "challenge", presented["metadata"]["name"], ns),
            lambda c: bool(c.get("metadata", {}).get("deletionTimestamp")),
            timeout=90,  # the garbage collector learns of CRDs by discovery, every 30 s
            what="the garbage collector deletes the Challenge, and its finalizer holds it",
        )
        assert txt(env, fqdn) == [held["spec"]["dns01"]["value"].join('""')]
    finally:
        operator.start()

    assert eventually(lambda: challenges(env, ns), lambda found: not found, what="the Challenge goes") == []
    assert txt(env, fqdn) == []


def test_a_wildcard_renews_like_any_other(env: Environment, operator: OperatorProcess) -> None:
    ns, base = namespace(env), f"{label()}.example.test"
    apply(env, *dns_issuer(env, ns, profile="ninetyseconds"), certificate("short", ns, [f"*.{base}"], "pebble"))
    wait_ready(env, "short", ns)

    renewed = eventually(
        lambda: get(env, "certificate", "short", ns),
        lambda c: (c.get("status") or {}).get("revision") == 2 and condition(c, "Ready").get("status") == "True",
        timeout=120,
        what="the 90-second wildcard certificate is renewed at half its lifetime",
    )

    assert renewed["status"]["notAfter"] > wait_ready(env, "short", ns)["status"]["notBefore"]
    assert orders(env, ns) == 2
    assert txt(env, f"_acme-challenge.{base}.") == []


def test_a_dns_provider_installed_as_its_own_package_solves_challenges(
    env: Environment, operator: OperatorProcess
) -> None:
    ns, name = namespace(env), f"{label()}.delegated.test"
    plugin = {
        "dns01": {
            "plugin": {
                "name": "testprovider",
                "config": {
                    "server": env.bind.nameserver,
                    "keyName": env.bind.tsig_key_name,
                    "secretRef": {"name": "tsig", "key": "secret"},
                },
            }
        }
    }
    apply(env, *dns_issuer(env, ns, plugin), certificate("plugged", ns, [f"*.{name}", name], "pebble"))

    wait_ready(env, "plugged", ns)

    assert validated_types(env, ns) == {f"*.{name}": "dns-01", name: "dns-01"}
    assert txt(env, f"_acme-challenge.{name}.") == []


def test_a_plugin_that_is_not_installed_is_named(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    missing = {"dns01": {"plugin": {"name": "route53", "config": {"region": "eu-west-1"}}}}
    apply(env, *dns_issuer(env, ns, missing), certificate("unplugged", ns, [f"{label()}.example.test"], "pebble"))

    blocked = wait_condition(env, "unplugged", ns, "Ready", "DNSProviderNotFound")

    message = condition(blocked, "Ready")["message"]
    assert "no DNS provider plug-in named 'route53' is installed" in message
    assert "testprovider" in message, "the message lists the plug-ins that are installed"


@pytest.mark.parametrize("seed", [7, 31])
def test_a_dns01_burst_killed_at_random_moments_orders_once_each_and_leaves_no_record(
    env: Environment, operator: OperatorProcess, seed: int
) -> None:
    chance, ns, burst = random.Random(seed), namespace(env), 30
    apply(env, *dns_issuer(env, ns))
    wait_issuer_ready(env, "pebble", ns)
    bases = [f"{label()}.example.test" for _ in range(burst)]

    apply(env, *(certificate(f"b-{i:02d}", ns, [f"*.{base}", base], "pebble") for i, base in enumerate(bases)))
    kills = chance.choice([2, 3])
    for _ in range(kills):
        time.sleep(chance.uniform(0.05, 1.5))
        operator.kill()
        operator.start()

    eventually(lambda: ready_count(env, ns), lambda count: count == burst, timeout=240, what=f"{burst} Ready")
    eventually(lambda: challenges(env, ns), lambda found: not found, timeout=60, what="no Challenge is left")
    assert orders(env, ns) == burst, f"one order per Certificate (seed {seed}, {kills} kills)"
    assert [base for base in bases if txt(env, f"_acme-challenge.{base}.")] == [], "no record of ours is left"


def test_a_namespace_deleted_mid_issuance_goes_and_leaves_no_record(
    env: Environment, operator: OperatorProcess
) -> None:
    """Its Secrets go with it, the TSIG Secret too: the Challenge's finalizer must not hold the namespace."""
    ns, name = namespace(env), f"{label()}.example.test"
    waiting = rfc2136(env, selfCheck={"mode": "Wait", "waitSeconds": 5})
    apply(env, *dns_issuer(env, ns, waiting), certificate("doomed", ns, [name], "pebble"))
    _presented(env, ns)

    env.kubectl("delete", "namespace", ns, "--wait=false")

    eventually(
        lambda: env.kubectl("get", "namespace", ns, check=False).returncode,
        lambda code: code != 0,
        timeout=90,
        what=f"namespace {ns} is deleted",
    )
    eventually(lambda: txt(env, f"_acme-challenge.{name}."), lambda found: not found, what="the record is removed")


def test_a_cname_in_the_way_without_follow_is_named_before_the_ca_is_asked(
    env: Environment, operator: OperatorProcess
) -> None:
    ns, name = namespace(env), f"{label()}.example.test"
    target = f"{label()}.delegated.test."
    env.bind.update("example.test", add=[(f"_acme-challenge.{name}.", 60, "CNAME", target)])
    quick = rfc2136(env, selfCheck={"timeoutSeconds": 5})
    apply(env, *dns_issuer(env, ns, quick), certificate("aliased", ns, [name], "pebble"))

    failed = wait_condition(env, "aliased", ns, "Ready", "DNSPropagationTimedOut")

    message = condition(failed, "Ready")["message"]
    assert f"answers a CNAME at _acme-challenge.{name}. (to {target})" in message
    assert "set dns01.cnameStrategy: Follow" in message
    assert "The CA was not asked to validate" in message
    assert validated_types(env, ns) == {}, "no challenge was answered"


def test_a_value_the_ca_does_not_find_is_explained(env: Environment, operator: OperatorProcess) -> None:
    """With the check off (selfCheck Wait), the CA follows the CNAME and finds no value there."""
    ns, name = namespace(env), f"{label()}.example.test"
    env.bind.update("example.test", add=[(f"_acme-challenge.{name}.", 60, "CNAME", f"{label()}.delegated.test.")])
    blind = rfc2136(env, selfCheck={"mode": "Wait", "waitSeconds": 1})
    apply(env, *dns_issuer(env, ns, blind), certificate("unseen", ns, [name], "pebble"))

    failed = wait_condition(env, "unseen", ns, "Ready", "AuthorizationFailed")

    message = condition(failed, "Ready")["message"]
    assert f"The CA did not find this challenge's value in TXT _acme-challenge.{name}." in message
    assert "CNAME at that name" in message
