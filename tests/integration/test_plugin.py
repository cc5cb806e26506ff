"""``kubectl certwright``, run as a user runs it: kubectl finds ``kubectl-certwright`` on PATH (the venv's
bin, where ``pip install`` put the console script) and the kubeconfig comes from KUBECONFIG.

kubectl refuses flags before a plugin's name (``kubectl --kubeconfig=… certwright`` is "flags cannot be
placed before plugin name"), so these calls pass the kubeconfig in the environment, not as
``Environment.kubectl`` does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from certwright_env import Environment
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
    orders,
    rfc2136,
    tsig_secret,
    wait_issuer_ready,
    wait_ready,
)

PLUGIN_BIN = Path(sys.executable).parent  # .venv/bin, where kubectl-certwright is installed
CHECK_LABEL = "certwright.dev/check"


def plugin(env: Environment, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``kubectl certwright ARGS`` with the plugin on PATH and the environment's kubeconfig."""
    assert env.binaries is not None
    environ = {
        **os.environ,
        "KUBECONFIG": str(env.kubeconfig),
        "PATH": f"{PLUGIN_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return subprocess.run(
        [str(env.binaries.kubectl), "certwright", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result.stdout


def _revision(env: Environment, name: str, ns: str, revision: int) -> None:
    eventually(
        lambda: get(env, "certificate", name, ns),
        lambda c: (c.get("status") or {}).get("revision") == revision and condition(c, "Ready").get("status") == "True",
        timeout=90,
        what=f"Certificate {ns}/{name} reaches revision {revision}",
    )


def _check_objects(env: Environment, ns: str) -> list[str]:
    listed = env.kubectl("get", "pods,services,ingresses", "-n", ns, "-l", CHECK_LABEL, "-o", "name")
    return listed.stdout.split()


def test_list_sorts_by_expiry_and_marks_what_needs_attention(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    apply(
        env,
        issuer(env, "pebble", ns),
        certificate("first", ns, names(1), "pebble"),
        certificate("second", ns, names(2), "pebble"),
        certificate("orphan", ns, names(1), "no-such-issuer"),
    )
    wait_ready(env, "first", ns)
    wait_ready(env, "second", ns)

    rows = json.loads(ok(plugin(env, "list", "-n", ns, "-o", "json")))

    assert rows[0]["name"] == "orphan", "never issued comes first"
    issued = [r for r in rows if r["name"] != "orphan"]
    assert [r["notAfter"] for r in issued] == sorted(r["notAfter"] for r in issued)
    for r in issued:
        status = get(env, "certificate", r["name"], ns)["status"]
        assert r["ready"] == "True"
        assert r["notAfter"] == status["notAfter"]
        assert r["daysLeft"] >= 0
        assert r["attention"] == []
    orphan = rows[0]
    assert orphan["ready"] == "False"
    assert "never issued" in orphan["attention"]
    assert any(marker.startswith("not Ready") for marker in orphan["attention"])

    table = ok(plugin(env, "list", "-n", ns)).splitlines()
    assert table[0].split()[:3] == ["NAME", "READY", "EXPIRES"]
    assert [line.split()[0] for line in table[1:]] == [r["name"] for r in rows]
    assert "! never issued" in table[1]
    assert ns in ok(plugin(env, "list", "-A"))


def test_status_reports_certificate_secret_issuer_and_events(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    dns_names = names(2)
    apply(env, issuer(env, "pebble", ns), certificate("shown", ns, dns_names, "pebble"))
    wait_ready(env, "shown", ns)

    report = json.loads(ok(plugin(env, "status", "shown", "-n", ns, "-o", "json")))

    assert report["certificate"]["revision"] == 1
    assert sorted(report["secret"]["dnsNames"]) == sorted(dns_names)
    assert report["secret"]["keyType"] == "ECDSA 256"
    assert report["secret"]["problems"] == []
    assert report["issuer"]["account"].startswith("https://")
    assert condition({"status": report["issuer"]}, "Ready")["status"] == "True"
    assert "Issued" in [e["reason"] for e in report["events"]]
    text = ok(plugin(env, "status", "shown", "-n", ns))
    assert f"Certificate {ns}/shown" in text
    assert "Ready: True (Issued)" in text

    missing = plugin(env, "status", "absent", "-n", ns)
    assert missing.returncode == 1
    assert f'Certificate "absent" not found in namespace {ns}' in missing.stderr


def test_inspect_secret_verifies_the_chain_against_pebbles_root(
    env: Environment, operator: OperatorProcess, tmp_path: Path
) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns), certificate("decoded", ns, names(1), "pebble"))
    wait_ready(env, "decoded", ns)
    root = tmp_path / "root.pem"
    with urllib.request.urlopen(f"{env.pebble_management_url}/roots/0", context=env.ssl_context(), timeout=5) as r:
        root.write_bytes(r.read())

    report = json.loads(
        ok(plugin(env, "inspect", "secret", "decoded-tls", "-n", ns, "--ca-bundle", str(root), "-o", "json"))
    )

    status = get(env, "certificate", "decoded", ns)["status"]
    leaf = report["chain"][0]
    assert leaf["notAfter"] == status["notAfter"]
    assert report["keyMatchesCertificate"] is True
    assert report["chainOrdered"] is True
    assert report["verifiedAgainstBundle"] == "ok"
    assert "the chain verifies" in ok(
        plugin(env, "inspect", "secret", "decoded-tls", "-n", ns, "--ca-bundle", str(root))
    )
    # Pebble's TLS CA is not the root that issues certificates: the chain does not verify against it.
    wrong = plugin(env, "inspect", "secret", "decoded-tls", "-n", ns, "--ca-bundle", str(env.pebble_ca_bundle))
    assert wrong.returncode == 1
    assert "FAILS" in wrong.stdout


def test_renew_all_renews_each_certificate_once(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    apply(env, issuer(env, "pebble", ns), *(certificate(n, ns, names(1), "pebble") for n in ("one", "two")))
    wait_ready(env, "one", ns)
    wait_ready(env, "two", ns)
    before = orders(env, ns)

    out = ok(plugin(env, "renew", "--all", "-n", ns))

    assert out.count("renewal requested") == 2
    _revision(env, "one", ns, 2)
    _revision(env, "two", ns, 2)
    time.sleep(2)  # nothing more happens: the annotation acted once
    assert [get(env, "certificate", n, ns)["status"]["revision"] for n in ("one", "two")] == [2, 2]
    assert orders(env, ns) == before + 2


def _check(env: Environment, name: str, ns: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return plugin(
        env,
        "check",
        name,
        "-n",
        ns,
        f"--selfcheck-nameservers={env.nameserver}",
        "--cluster-resource-namespace=certwright",
        *extra,
    )


def test_check_passes_without_ordering_or_touching_the_secret(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    dns_names = names(2)
    apply(env, issuer(env, "pebble", ns), certificate("proven", ns, dns_names, "pebble"))
    wait_ready(env, "proven", ns)
    secret_version = get(env, "secret", "proven-tls", ns)["metadata"]["resourceVersion"]
    status = get(env, "certificate", "proven", ns)["status"]
    before = orders(env, ns)

    out = ok(_check(env, "proven", ns))

    assert "ok    account of Issuer pebble" in out
    for dns_name in dns_names:
        assert f"ok    {dns_name}: http-01 through Ingress" in out
    assert get(env, "secret", "proven-tls", ns)["metadata"]["resourceVersion"] == secret_version
    assert get(env, "certificate", "proven", ns)["status"] == status
    assert orders(env, ns) == before
    assert _check_objects(env, ns) == []


def test_check_names_the_failing_hop_of_a_broken_route(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    dns_name = names(1)[0]
    solvers: list[dict[str, Any]] = [{"http01": {"ingress": {"ingressClassName": "no-such-class"}}}]
    apply(env, issuer(env, "broken", ns, solvers=solvers), certificate("unroutable", ns, [dns_name], "broken"))
    wait_issuer_ready(env, "broken", ns)

    result = _check(env, "unroutable", ns, "--timeout=3")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "ok    account of Issuer broken" in result.stdout
    line = next(line for line in result.stdout.splitlines() if dns_name in line)
    assert line.startswith("FAIL")
    assert "at the ingress hop" in line, line
    assert "404" in line, line
    assert _check_objects(env, ns) == []


def test_check_of_a_missing_certificate_says_so(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    result = _check(env, "absent", ns)
    assert result.returncode == 1
    assert f'Certificate "absent" not found in namespace {ns}' in result.stderr


def test_check_interrupted_cleans_up(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    solvers: list[dict[str, Any]] = [{"http01": {"ingress": {"ingressClassName": "no-such-class"}}}]
    apply(env, issuer(env, "broken", ns, solvers=solvers), certificate("stopped", ns, names(1), "broken"))
    wait_issuer_ready(env, "broken", ns)
    assert env.binaries is not None
    environ = {**os.environ, "KUBECONFIG": str(env.kubeconfig), "PATH": f"{PLUGIN_BIN}{os.pathsep}{os.environ['PATH']}"}
    command = [str(env.binaries.kubectl), "certwright", "check", "stopped", "-n", ns, "--timeout=120"]
    with subprocess.Popen(command, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as running:
        eventually(lambda: _check_objects(env, ns), lambda found: len(found) == 3, what="the check's solver objects")
        running.send_signal(signal.SIGINT)  # kubectl execs the plugin: this is Ctrl-C for it
        _, stderr = running.communicate(timeout=60)

    assert running.returncode == 130, stderr
    assert _check_objects(env, ns) == []


def test_check_of_dns01_presents_and_removes_a_throwaway_record(env: Environment, operator: OperatorProcess) -> None:
    ns = namespace(env)
    base = names(1)[0]
    apply(
        env,
        tsig_secret("tsig", ns, env.bind.tsig_secret),
        issuer(env, "pebble", ns, solvers=[rfc2136(env)]),
        certificate("dns", ns, [base, f"*.{base}"], "pebble"),
    )
    wait_ready(env, "dns", ns)
    before = orders(env, ns)

    out = ok(_check(env, "dns", ns))

    for dns_name in (base, f"*.{base}"):
        assert f"ok    {dns_name}: dns-01: a TXT value at _acme-challenge.{base}." in out
    assert env.bind.query(f"_acme-challenge.{base}", "TXT") == []
    assert orders(env, ns) == before
