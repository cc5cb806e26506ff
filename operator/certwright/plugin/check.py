"""``kubectl certwright check NAME``: certwright's ``--dry-run``, proving a renewal path before it is due.

Proves that the issuer's ACME account works (its key read from the Secret, the account looked up with a
POST to newAccount with ``onlyReturnExisting``: no order, nothing counted against rate limits) and that
every name's challenge path works: HTTP-01 through a solver Pod, Service and Ingress or HTTPRoute that
serve a throw-away token, fetched as the CA would (naming the hop that fails); DNS-01 through a
throw-away TXT value and the propagation check. The Certificate, its status and its Secret are only read.

The solver objects have no Challenge to own them (there is none); they carry ``certwright.dev/check=<id>``
and are deleted by that label when the check ends, also on Ctrl-C or SIGTERM. The operator's leftover
sweeps go by Challenges, so they never touch them, and this never touches the operator's.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any, TextIO

import josepy as jose
from cryptography.hazmat.primitives.asymmetric import ec

from ..acme.client import AcmeClient
from ..acme.errors import AccountDoesNotExist, AcmeError
from ..acme.selfcheck import check_http01
from ..acme.transport import Transport, new_session
from ..dns.errors import DnsError
from ..domain import api, routes
from ..domain.explain import explain
from ..domain.specs import IssuerSpec, Solver, SpecError, parse_certificate, parse_issuer, solver_for
from ..kube import builders
from ..kube.dns import secret_namespace
from ..pki.errors import PkiError
from ..pki.keys import key_from_pem
from . import dnsprobe
from .cluster import Cluster, Obj
from .errors import NoSuchObject, PluginError

LABEL_CHECK = f"{api.GROUP}/check"
POD_READY_TIMEOUT = 120.0
CLEANUP_TIMEOUT = 30.0


@dataclass(frozen=True)
class Line:
    """One checked thing (the account, or a name): passed or not, and what was seen."""

    subject: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.subject}: {self.detail}"


@dataclass
class Probe:
    """One HTTP-01 name being checked: its throw-away token and the solver objects serving it."""

    dns_name: str
    solver: Solver
    challenge: Obj  # a stand-in Challenge for the builders; never created
    token: str
    key_authorization: str

    @property
    def solver_name(self) -> str:
        return builders.solver_name(self.challenge["metadata"]["name"])


def run(args: argparse.Namespace, cluster: Cluster, namespace: str, *, out: TextIO) -> int:
    """Check one Certificate; 1 when the account or any name fails."""
    certificate = cluster.get_custom(api.CERTIFICATES, namespace, args.name)
    if certificate is None:
        raise NoSuchObject(f'Certificate "{args.name}" not found in namespace {namespace}')
    try:
        spec = parse_certificate(certificate.get("spec") or {})
    except SpecError as error:
        raise PluginError(f"Certificate {namespace}/{args.name}: {error}") from error
    ref = spec.issuer_ref
    issuer = cluster.get_custom(
        api.CLUSTER_ISSUERS if ref.cluster_scoped else api.ISSUERS, None if ref.cluster_scoped else namespace, ref.name
    )
    if issuer is None:
        raise NoSuchObject(f"{ref.kind} {ref.name} (the Certificate's issuerRef) does not exist")
    try:
        issuer_spec = parse_issuer(issuer.get("spec") or {})
    except SpecError as error:
        raise PluginError(f"{ref.kind} {ref.name}: {error}") from error
    secrets_in = secret_namespace(ref.kind, namespace, args.cluster_resource_namespace)
    nameservers = tuple(s.strip() for s in args.selfcheck_nameservers.split(",") if s.strip())
    check_id = secrets.token_hex(4)
    print(f"Checking Certificate {namespace}/{args.name} with {ref.kind} {ref.name} (check {check_id})", file=out)
    lines = [account(cluster, issuer_spec, secrets_in, ref.kind, ref.name)]
    print(lines[0], file=out)
    checked = names(args, cluster, namespace, spec.dns_names, issuer_spec, secrets_in, nameservers, check_id)
    with _terminated_as_interrupt(), contextlib.closing(checked):  # closing: the clean-up runs when interrupted
        for line in checked:
            print(line, file=out, flush=True)
            lines.append(line)
    failed = sum(not line.ok for line in lines)
    print(f"{failed} of {len(lines)} checks failed" if failed else "every check passed; nothing was ordered", file=out)
    return 1 if failed else 0


def account(cluster: Cluster, spec: IssuerSpec, namespace: str, kind: str, name: str) -> Line:
    """Whether the issuer's account key finds a valid account at the CA (a POST-as-GET, §7.3.1)."""
    subject = f"account of {kind} {name}"
    ref = spec.account_key
    try:
        secret = cluster.get_secret(namespace, ref.name)
    except PluginError as error:
        return Line(subject, False, str(error))
    encoded = ((secret or {}).get("data") or {}).get(ref.key)
    if not encoded:
        missing = "does not exist" if secret is None else f"has no key {ref.key!r}"
        return Line(subject, False, f"Secret {namespace}/{ref.name} {missing}: has the operator registered it yet?")
    try:
        key = key_from_pem(base64.b64decode(encoded))
    except PkiError as error:
        return Line(subject, False, f"Secret {namespace}/{ref.name}[{ref.key}]: {error}")
    jwk = jose.JWKEC(key=key) if isinstance(key, ec.EllipticCurvePrivateKey) else jose.JWKRSA(key=key)
    try:
        with _bundle_file(spec.ca_bundle) as bundle, new_session(bundle) as session:
            found = AcmeClient(Transport(spec.server, session=session), jwk).find_account()
    except AccountDoesNotExist:
        return Line(subject, False, f"{spec.server} knows no account for the key in Secret {namespace}/{ref.name}")
    except AcmeError as error:
        return Line(subject, False, explain(error))
    status = found.body.status or "unknown"
    return Line(subject, status == "valid", f"{found.url} is {status} at {spec.server}")


def names(
    args: argparse.Namespace,
    cluster: Cluster,
    namespace: str,
    dns_names: tuple[str, ...],
    issuer: IssuerSpec,
    secrets_in: str,
    nameservers: tuple[str, ...],
    check_id: str,
) -> Generator[Line, None, None]:
    """A line per name: HTTP-01 names share one wait for their solver Pods; DNS-01 names go one by one."""
    http01: list[Probe] = []
    for index, dns_name in enumerate(dns_names):
        solver = solver_for(issuer.solvers, dns_name)
        if solver is None:
            yield Line(dns_name, False, "no solver of the issuer matches this name (spec.acme.solvers selectors)")
        elif solver.dns01 is not None:
            yield _dns01(args, cluster, dns_name, solver, secrets_in, nameservers)
        else:
            http01.append(_probe(args.name, namespace, dns_name, solver, check_id, index))
    if not http01:
        return
    selector = f"{LABEL_CHECK}={check_id}"
    routes_used = any(p.solver.parent_refs for p in http01)
    try:
        for probe in http01:
            for manifest in _manifests(probe, args.solver_image, check_id):
                cluster.create(manifest)
        for probe in http01:
            yield _http01(args, cluster, namespace, probe, nameservers)
    finally:
        _clean_up(cluster, namespace, selector, routes_used)


def _probe(certificate: str, namespace: str, dns_name: str, solver: Solver, check_id: str, index: int) -> Probe:
    token = secrets.token_urlsafe(32)
    challenge = {
        "apiVersion": api.API_VERSION,
        "kind": "Challenge",
        "metadata": {
            "name": f"{certificate[:40].rstrip('.-')}-check-{check_id}-{index}",
            "namespace": namespace,
            "uid": "",  # the builders' owner reference, dropped again in _manifests
        },
        "spec": {"dnsName": dns_name, "token": token},
    }
    return Probe(dns_name, solver, challenge, token, f"{token}.{secrets.token_urlsafe(32)}")


def _manifests(probe: Probe, image: str, check_id: str) -> list[Obj]:
    """The solver Pod, Service and Ingress (or HTTPRoute) as the operator builds them, owned by no Challenge
    and labelled with the check's id instead."""
    route = builders.build_solver_httproute if probe.solver.parent_refs else builders.build_solver_ingress
    built = [
        builders.build_solver_pod(
            probe.challenge, probe.solver, image=image, key_authorization=probe.key_authorization
        ),
        builders.build_solver_service(probe.challenge, probe.solver),
        route(probe.challenge, probe.solver),
    ]
    for manifest in built:
        manifest["metadata"].pop("ownerReferences", None)
        manifest["metadata"]["labels"][LABEL_CHECK] = check_id
    return built


def _http01(
    args: argparse.Namespace, cluster: Cluster, namespace: str, probe: Probe, nameservers: tuple[str, ...]
) -> Line:
    """Wait for the Pod, then fetch the token's URL until it answers or the time is up; the hop that failed."""
    pod = _wait_ready(cluster, namespace, probe.solver_name, POD_READY_TIMEOUT)
    if pod is not None:
        return Line(probe.dns_name, False, f"http-01 at the solver Pod {namespace}/{probe.solver_name}: {pod}")
    timeout = args.timeout if args.timeout is not None else float(probe.solver.self_check.timeout_seconds)
    deadline, delay = time.monotonic() + timeout, 0.1
    via = "HTTPRoute" if probe.solver.parent_refs else "Ingress"
    while True:
        result = check_http01(probe.dns_name, probe.token, probe.key_authorization, nameservers=nameservers)
        if result.ok:
            return Line(probe.dns_name, True, f"http-01 through {via} {probe.solver_name}: the self-check passed")
        if time.monotonic() + delay > deadline:
            route = _route_refused(cluster, namespace, probe) if probe.solver.parent_refs else None
            detail = route or f"at the {result.hop} hop after {timeout:.0f} s: {result.detail}"
            return Line(probe.dns_name, False, f"http-01 through {via} {probe.solver_name} {detail}")
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def _wait_ready(cluster: Cluster, namespace: str, name: str, timeout: float) -> str | None:
    """None once the Pod is Ready; else what it is waiting for when the time is up."""
    deadline = time.monotonic() + timeout
    while True:
        pod = cluster.get_pod(namespace, name) or {}
        conditions = (pod.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            return None
        if time.monotonic() > deadline:
            return f"not Ready within {timeout:.0f} s ({_waiting(pod)})"
        time.sleep(0.5)


def _waiting(pod: dict[str, Any]) -> str:
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        waiting = (container.get("state") or {}).get("waiting") or {}
        if waiting:
            return f"{waiting.get('reason')}: {waiting.get('message') or ''}".rstrip(": ")
    unscheduled: dict[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), {}
    )
    if unscheduled.get("status") == "False":
        return f"not scheduled: {unscheduled.get('message')}"
    return f"phase {status.get('phase') or 'unknown'}"


def _route_refused(cluster: Cluster, namespace: str, probe: Probe) -> str | None:
    """The Gateway's refusal of the solver's HTTPRoute, as the operator words it; None when none refused."""
    route = cluster.get_route(namespace, probe.solver_name) or {}
    parents = (route.get("status") or {}).get("parents") or []
    for ref in probe.solver.parent_refs:
        status = next((p for p in parents if routes.same_parent(p.get("parentRef") or {}, ref, namespace)), None)
        verdict = routes.verdict(status, ref, namespace, probe.solver_name)
        if verdict is not None and not verdict.accepted:
            return f"at the Gateway hop: {verdict.message}"
    return None


def _dns01(
    args: argparse.Namespace,
    cluster: Cluster,
    dns_name: str,
    solver: Solver,
    secrets_in: str,
    nameservers: tuple[str, ...],
) -> Line:
    timeout = args.timeout if args.timeout is not None else float(solver.self_check.timeout_seconds)
    try:
        provider = dnsprobe.build_provider(solver, cluster.get_secret, secrets_in, nameservers)
        ok, detail = asyncio.run(dnsprobe.probe(dns_name, solver, provider, nameservers, timeout))
    except DnsError as error:
        return Line(dns_name, False, f"dns-01 provider {solver.dns01.provider if solver.dns01 else ''}: {error}")
    return Line(dns_name, ok, detail)


def _clean_up(cluster: Cluster, namespace: str, selector: str, routes_used: bool) -> None:
    """Delete the check's solver objects by label and wait until they are gone (say so if some stay)."""
    with _terminated_as_interrupt(ignore=True):
        try:
            cluster.delete_labelled(namespace, selector, routes=routes_used)
            deadline = time.monotonic() + CLEANUP_TIMEOUT
            while left := cluster.list_labelled(namespace, selector, routes=routes_used):
                if time.monotonic() > deadline:
                    print(
                        f"warning: still there after {CLEANUP_TIMEOUT:.0f} s: {', '.join(left)}; "
                        f"remove with: kubectl delete pod,svc,ingress -n {namespace} -l {selector}",
                        file=sys.stderr,
                    )
                    return
                time.sleep(0.5)
        except PluginError as error:
            print(
                f"warning: cleaning up failed ({error}); remove with: "
                f"kubectl delete pod,svc,ingress -n {namespace} -l {selector}",
                file=sys.stderr,
            )


@contextlib.contextmanager
def _terminated_as_interrupt(*, ignore: bool = False) -> Iterator[None]:
    """SIGTERM (and, when ``ignore``, SIGINT) handled like Ctrl-C, so that clean-up runs (or is not cut short)."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    handler = signal.SIG_IGN if ignore else interrupt
    handled = (signal.SIGTERM, signal.SIGINT) if ignore else (signal.SIGTERM,)
    previous = {sig: signal.signal(sig, handler) for sig in handled}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def _bundle_file(bundle: bytes | None) -> Iterator[str | None]:
    """The issuer's caBundle as a file for requests to verify against, removed afterwards."""
    if bundle is None:
        yield None
        return
    with tempfile.NamedTemporaryFile(prefix="certwright-ca-", suffix=".pem") as file:
        file.write(bundle)
        file.flush()
        yield file.name
