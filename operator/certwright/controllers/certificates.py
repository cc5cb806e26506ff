"""Certificates: observe spec, status and the Secret; decide whether to issue; write conditions.

Level-based (the operator's own watch, see ``observe``: no diff-base annotation, no finalizer): each
event collapses into one reconcile per Certificate, which recomputes from the spec, the status and the
Secret. An issuance in flight (``status.order``) is resumed; otherwise the ordered checks in
``domain.issuing`` decide.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import functools
import json
from collections.abc import Callable
from typing import Any

import kopf

from ..acme.client import AcmeClient
from ..dns import registry
from ..dns.errors import DnsError
from ..domain import api
from ..domain.conditions import ConditionType, Reason, find_condition, parse_timestamp, set_condition, timestamp
from ..domain.issuing import Inputs, SecretView, Trigger, status_renewal_time, why_issue
from ..domain.loops import SECRET_TRIGGERS, Repeats
from ..domain.renewal import earliest_renewal, ignored_note, renewal
from ..domain.specs import CertificateSpec, IssuerSpec, SpecError, parse_certificate, parse_issuer, solver_for
from ..kube.context import Context, certificate_issuer_key
from ..kube.status import record_ready
from . import guards
from .issuance import UNREAD, Issuance
from .renewals import follow_renewal_info, repair_metadata

NOT_REGISTERED_YET = "its ACME account is not registered yet"


def setup(registry: kopf.OperatorRegistry) -> None:
    """At start-up: listen to issuers and to Secrets, and run the scheduler."""

    @kopf.on.startup(registry=registry)
    async def listen(memo: kopf.Memo, **_: Any) -> None:
        context: Context = memo["context"]
        context.issuer_listeners.append(lambda key: _wake_for_issuer(context, key))
        context.certificate_listeners.append(lambda key: _trigger(context, key))
        if context.scheduler is not None:
            memo["scheduler_task"] = asyncio.get_running_loop().create_task(context.scheduler.run(), name="scheduler")


def observe(context: Context) -> Callable[[str, dict[str, Any]], None]:
    """The handler of the Certificates' watch: keep the body, wake the Certificate.

    The watch is the operator's own (``kube.watch``), not kopf's: a kopf watch keeps a record and a
    worker per object and queues every event's whole body, about 25 KB per Certificate at 10,000. The
    watch starts once issuers and Challenges are known, and judging waits for their first sync, so a
    restarted operator never judges a Certificate before it has seen every issuer.
    """

    def observed(kind: str, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        body = {**body, "kind": "Certificate", "apiVersion": api.API_VERSION}
        if kind != "DELETED" and context.is_older(key, body):
            return  # queued before a status this process wrote and already keeps
        if kind == "DELETED":
            context.remember_certificate(key, None)
            for gone in context.certificate_gone_listeners:
                gone(body)
            return
        context.remember_certificate(key, body)
        for seen in context.certificate_seen_listeners:
            seen(key)
        _trigger(context, key)

    return observed


def _trigger(context: Context, key: str) -> None:
    context.runner.trigger(f"Certificate/{key}", lambda: reconcile(context, key))


def _wake_for_issuer(context: Context, issuer: str) -> None:
    for key in list(context.certificates_by_issuer.get(issuer, ())):
        _trigger(context, key)


@functools.lru_cache(maxsize=256)
def _parsed_issuer(spec: str) -> IssuerSpec:
    return parse_issuer(json.loads(spec))


def _issuer_spec(issuer: dict[str, Any]) -> IssuerSpec:
    """The issuer's parsed spec, parsed once per spec for all its Certificates (the cache is keyed by
    the spec's JSON, so an edited issuer is parsed again)."""
    return _parsed_issuer(json.dumps(issuer["spec"], sort_keys=True))


def _issuer_body(context: Context, key: str) -> dict[str, Any] | None:
    """The issuer as last observed (complete once ``context.catalog_synced`` is set)."""
    return context.issuers.get(key)


async def reconcile(context: Context, key: str) -> None:
    """Issue when a check says so (or resume the issuance in status); otherwise keep Ready true,
    repair the Secret's labels, follow the CA's renewal advice, and sleep until something is due.

    Judging runs at most ``context.judging`` at a time: at start-up every Certificate is judged, and
    10,000 at once would each hold their decoded body, Secret and parsed certificate together. An
    issuance, which waits on the CA, runs outside that bound (within ``issuance_slots``).
    """
    await context.catalog_synced.wait()  # every issuer and Challenge seen: judged on all of them
    async with context.judging:
        issuance = await _prepare(context, key)
    if issuance is None:
        return
    work, trigger, repeats = issuance
    try:
        async with context.issuance_slots:
            await work.run(trigger, repeats)
    finally:
        context.issuing.discard(key)


async def _prepare(context: Context, key: str) -> tuple[Issuance, Trigger | None, Repeats | None] | None:
    """The issuance to run (its key then in ``context.issuing``), or None when there is nothing to do."""
    certificate = context.certificates.get(key)
    if certificate is None:
        return None
    try:
        spec = parse_certificate(certificate.get("spec") or {})
    except SpecError as error:
        await _not_ready(context, certificate, Reason.INVALID_SPEC, str(error))
        return None
    blocked = _blocker(context, certificate, spec)
    if blocked is not None:
        await _not_ready(context, certificate, *blocked)
        return None
    status = certificate.get("status") or {}
    account = context.accounts.get(certificate_issuer_key(certificate))
    if account is None:  # a ready issuer whose account this process has not loaded yet: it wakes us
        return None
    issuer_body = _issuer_body(context, certificate_issuer_key(certificate))
    assert issuer_body is not None
    issuer = _issuer_spec(issuer_body)
    in_flight = bool((status.get("order") or {}).get("url"))
    if key not in context.swept and not in_flight:
        context.swept.add(key)  # once per process: what a crash left behind
        await guards.sweep_leftovers(context, key, certificate, spec, idle=True)
    secret: object = UNREAD
    cached = False
    if not in_flight or len(context.claimants(key)) > 1:
        secret, cached = await _read_secret(context, certificate["metadata"]["namespace"], spec.secret_name)
    held_by = guards.secret_owner(context, key, secret if isinstance(secret, dict) else None)
    if held_by is not None:
        message = f"Secret {spec.secret_name} belongs to Certificate {held_by}; give this one its own spec.secretName"
        await _not_ready(context, certificate, Reason.SECRET_IN_USE, message)
        return None
    now = context.clock()
    resume_at = parse_timestamp(status.get("nextAttemptTime"))
    if resume_at is not None and now < resume_at and not _retry_now(certificate):
        _sleep_until(context, key, resume_at)  # no request for it reaches the CA before then
        return None
    trigger: Trigger | None = None
    repeats: Repeats | None = None
    if not in_flight:
        assert secret is None or isinstance(secret, dict)
        trigger, secret = await _judge(context, key, certificate, spec, account.client, secret, cached)
        if trigger is None:
            return None
        go, repeats = await guards.repeats_or_stop(context, certificate, spec, trigger)
        if not go:
            return None
    if guards.secret_owner(context, key, secret if isinstance(secret, dict) else None) is not None:
        context.wake_certificate(key)  # another claimant started meanwhile: judge again
        return None
    context.issuing.add(key)  # no await since the ownership check: two claimants never both order
    return Issuance(context, certificate, spec, issuer, account.client, secret), trigger, repeats


async def _judge(
    context: Context,
    key: str,
    certificate: dict[str, Any],
    spec: CertificateSpec,
    client: AcmeClient,
    secret: dict[str, Any] | None,
    cached: bool,
) -> tuple[Trigger | None, dict[str, Any] | None]:
    """The reason to issue (and the Secret it was judged on); or, when there is none, Ready kept true
    and the next wake-up scheduled."""
    unwritable = guards.unwritable(spec, secret)
    if unwritable is not None:
        await _not_ready(context, certificate, *unwritable)
        guards.recheck_later(context, key)
        return None, secret
    context.recheck_delay.pop(key, None)
    view = _view(secret)
    trigger = _why(context, certificate, spec, view)
    if trigger is not None and cached and trigger.reason in SECRET_TRIGGERS:
        # The watch cache can lag behind certwright's own write (a renewal's Secret, then its status):
        # a repair is only started on what the API server says now.
        secret = await context.kube.get_secret(certificate["metadata"]["namespace"], spec.secret_name)
        view = _view(secret)
        trigger = _why(context, certificate, spec, view)
    if trigger is not None:
        return trigger, secret
    assert secret is not None
    assert view is not None
    await repair_metadata(context, certificate, spec, secret)
    await _up_to_date(context, certificate, spec, view)
    ari_due = await follow_renewal_info(context, certificate, spec, client, secret)
    latest = context.certificates.get(key, certificate).get("status") or {}
    _sleep_until(context, key, status_renewal_time(latest), ari_due)
    return None, secret


def _why(
    context: Context, certificate: dict[str, Any], spec: CertificateSpec, view: SecretView | None
) -> Trigger | None:
    status = certificate.get("status") or {}
    meta = certificate["metadata"]
    issuing = find_condition(status.get("conditions") or [], ConditionType.ISSUING) or {}
    stopped = issuing.get("reason") == Reason.ISSUANCE_LOOP  # the loop breaker's pause is not a failure to retry
    return why_issue(
        Inputs(
            spec,
            view,
            meta.get("annotations") or {},
            status_renewal_time(status),
            context.clock(),
            meta["name"],
            status.get("certID"),
            0 if stopped else int(status.get("failedIssuanceAttempts") or 0),
        )
    )


async def _read_secret(context: Context, namespace: str, name: str) -> tuple[dict[str, Any] | None, bool]:
    """From the watch cache (True: it came from there); a Secret missing there is confirmed with one
    GET (it may only have lost its label, which is repaired, not re-issued)."""
    if context.secrets is not None:
        cached = await context.secrets.read(namespace, name)
        if cached is not None:
            return cached, True
    return await context.kube.get_secret(namespace, name), False


def _retry_now(certificate: dict[str, Any]) -> bool:
    """A spec change since the failure, or a forced renewal, skips the back-off (never a rate limit)."""
    status = certificate.get("status") or {}
    issuing = find_condition(status.get("conditions") or [], ConditionType.ISSUING) or {}
    if issuing.get("reason") == Reason.RATE_LIMITED:
        return False
    changed = issuing.get("observedGeneration") != certificate["metadata"].get("generation")
    return changed or api.ANNOTATION_RENEW in (certificate["metadata"].get("annotations") or {})


def _sleep_until(context: Context, key: str, *moments: datetime.datetime | None) -> None:
    due = [moment for moment in moments if moment is not None]
    if due and context.scheduler is not None:
        context.scheduler.schedule(key, min(due))


def _blocker(context: Context, certificate: dict[str, Any], spec: CertificateSpec) -> tuple[Reason, str] | None:
    """What a schema cannot see: a missing or unready issuer, a wildcard over HTTP-01, no solver."""
    ref = spec.issuer_ref
    issuer = _issuer_body(context, certificate_issuer_key(certificate))
    if issuer is None and ref.cluster_scoped and not context.settings.cluster_issuers:
        namespace = certificate["metadata"]["namespace"]
        return Reason.ISSUER_NOT_FOUND, (
            f"{ref.kind} {ref.name} is not served: this operator watches only its namespaces (watchNamespace), "
            f"where ClusterIssuers cannot be granted; create an Issuer in {namespace} and point spec.issuerRef at it"
        )
    if issuer is None:
        where = "" if ref.cluster_scoped else f" in namespace {certificate['metadata']['namespace']}"
        return Reason.ISSUER_NOT_FOUND, f"{ref.kind} {ref.name} does not exist{where}; create it or fix spec.issuerRef"
    ready = find_condition((issuer.get("status") or {}).get("conditions") or [], ConditionType.READY)
    if ready is None or ready.get("status") != "True":
        why = (ready or {}).get("message") or NOT_REGISTERED_YET
        return Reason.ISSUER_NOT_READY, f"{ref.kind} {ref.name} is not ready: {why}"
    solvers = _issuer_spec(issuer).solvers
    chosen = {name: solver_for(solvers, name) for name in spec.dns_names}
    wildcards = [name for name, solver in chosen.items() if solver is None and name.startswith("*.")]
    if wildcards:
        return (
            Reason.WILDCARD_NEEDS_DNS01,
            f"{', '.join(wildcards)}: wildcard names need a DNS-01 solver (HTTP-01 cannot validate them); "
            f"add a dns01 solver to {ref.kind} {ref.name} whose selector matches them",
        )
    unsolved = [name for name, solver in chosen.items() if solver is None]
    if unsolved:
        return (
            Reason.NO_SOLVER,
            f"no solver of {ref.kind} {ref.name} matches {', '.join(unsolved)}; add one or widen a selector",
        )
    for provider in sorted({s.dns01.provider for s in chosen.values() if s is not None and s.dns01 is not None}):
        try:
            registry.provider_class(provider)
        except DnsError as error:
            return Reason.DNS_PROVIDER_NOT_FOUND, f"{ref.kind} {ref.name}: {error}"
    return None


def _view(secret: dict[str, Any] | None) -> SecretView | None:
    if secret is None:
        return None
    data = secret.get("data") or {}
    decoded = {key: base64.b64decode(data[key]) if data.get(key) else None for key in ("tls.crt", "tls.key")}
    return SecretView(decoded["tls.crt"], decoded["tls.key"], (secret.get("metadata") or {}).get("annotations") or {})


async def _up_to_date(context: Context, certificate: dict[str, Any], spec: CertificateSpec, view: SecretView) -> None:
    """Ready=True with the dates of the certificate in the Secret; written only when it differs."""
    info = view.info
    status = certificate.get("status") or {}
    meta = certificate["metadata"]
    plan = renewal(info.not_before, info.not_after, spec.renew_before)
    renews = status.get("renewalTime")
    if _recompute_renewal(status, spec, meta.get("generation"), info.not_before, info.not_after):
        renews = timestamp(plan.at)
    dates = {
        "notBefore": timestamp(info.not_before),
        "notAfter": timestamp(info.not_after),
        "renewalTime": renews,
        "certificateGeneration": meta.get("generation"),
    }
    ready = find_condition(status.get("conditions") or [], ConditionType.READY) or {}
    if ready.get("status") == "True" and all(status.get(k) == v for k, v in dates.items()):
        return
    now = context.clock()
    message = f"certificate is up to date: valid until {dates['notAfter']}, renews at {dates['renewalTime']}"
    if plan.renew_before_ignored and renews == timestamp(plan.at):
        message += f" ({ignored_note(str(spec.renew_before_text), info.not_before, info.not_after, renews)})"
    conditions = set_condition(
        status.get("conditions") or [],
        ConditionType.READY,
        True,
        Reason.ISSUED,
        message,
        now=now,
        generation=meta.get("generation"),
    )
    await context.patch_certificate_status(meta["namespace"], meta["name"], {"conditions": conditions, **dates})


def _recompute_renewal(
    status: dict[str, Any],
    spec: CertificateSpec,
    generation: int | None,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
) -> bool:
    """The renewal time in status stands unless there is none, the spec changed, or it falls in the first
    third of the lifetime without a CA's window to explain it (written by an older version)."""
    current = parse_timestamp(status.get("renewalTime"))
    if current is None:
        return True
    if status.get("lastRenewalInfo") and spec.renew_before is None:
        return False  # the CA's window decides
    return status.get("certificateGeneration") != generation or current < earliest_renewal(not_before, not_after)


async def _not_ready(context: Context, certificate: dict[str, Any], reason: Reason, message: str) -> None:
    """Ready=False with a specific reason and one Event, only when that is news (a moment's wait for
    the issuer's account is not worth a Warning)."""
    event = not message.endswith(NOT_REGISTERED_YET)
    await record_ready(
        context.kube, certificate, api.CERTIFICATES, False, reason, message, now=context.clock(), event=event
    )
