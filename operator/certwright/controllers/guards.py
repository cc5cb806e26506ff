"""What stands between a trigger and an order (issue 10): one owner per Secret, a Secret that can hold
the certificate, the loop breaker, and no leftovers from an issuance a crash interrupted.

Each guard reads what the reconcile already has, and writes (one status patch, one Event) only when
what it finds is news.
"""

from __future__ import annotations

import datetime
import logging
from typing import Any

from ..domain import api
from ..domain.claims import Claimant, owner
from ..domain.conditions import ConditionType, Reason, find_condition, set_condition, timestamp
from ..domain.issuing import Trigger
from ..domain.loops import (
    LIMIT,
    SECRET_TRIGGERS,
    History,
    Repeats,
    foreign_writer,
    is_repeat,
    loop_message,
    one_more,
)
from ..domain.renewal import retry_time
from ..domain.specs import CertificateSpec
from ..kube.builders import next_key_name
from ..kube.context import Context

log = logging.getLogger(__name__)
TLS_TYPE = "kubernetes.io/tls"
FIRST_RECHECK = 5.0  # seconds: a foreign Secret in the way is looked at again, doubling up to
LAST_RECHECK = 300.0  # five minutes (no watch covers Secrets certwright does not label)


def secret_owner(context: Context, key: str, secret: dict[str, Any] | None) -> str | None:
    """The name of the Certificate that owns the Secret, when it is not ``key``'s; None when it is."""
    keys = context.claimants(key)
    if len(keys) < 2:
        return None
    claimants = []
    for other in sorted(keys):
        body = context.certificates.get(other)
        if body is None:
            continue
        in_flight = bool(((body.get("status") or {}).get("order") or {}).get("url")) or other in context.issuing
        claimants.append(Claimant(body["metadata"]["name"], body["metadata"].get("creationTimestamp", ""), in_flight))
    named = ((secret or {}).get("metadata") or {}).get("annotations", {}).get(api.ANNOTATION_CERTIFICATE)
    chosen = owner(claimants, named) if claimants else key.split("/", 1)[1]
    return None if chosen == key.split("/", 1)[1] else chosen


def unwritable(spec: CertificateSpec, secret: dict[str, Any] | None) -> tuple[Reason, str] | None:
    """A Secret that cannot hold a TLS certificate, found before ordering (not after the CA has issued)."""
    if secret is None:
        return None
    kind = secret.get("type") or "Opaque"
    if kind != TLS_TYPE:
        return (
            Reason.SECRET_TYPE_MISMATCH,
            f"Secret {spec.secret_name} has type {kind}, and a Secret's type cannot change; "
            f"delete it or pick another spec.secretName",
        )
    if secret.get("immutable"):
        return (
            Reason.SECRET_IMMUTABLE,
            f"Secret {spec.secret_name} is immutable, so no certificate can be written to it; "
            f"delete it or pick another spec.secretName",
        )
    return None


def recheck_later(context: Context, key: str) -> None:
    """Look again soon, then less often: nothing tells certwright when a foreign Secret goes."""
    delay = context.recheck_delay.get(key, FIRST_RECHECK)
    context.recheck_delay[key] = min(delay * 2, LAST_RECHECK)
    if context.scheduler is not None:
        context.scheduler.schedule(key, context.clock() + datetime.timedelta(seconds=delay))


async def repeats_or_stop(
    context: Context, certificate: dict[str, Any], spec: CertificateSpec, trigger: Trigger
) -> tuple[bool, Repeats | None]:
    """(go ahead, the repeats to record). A repeat past ``LIMIT`` stops the issuance and says why."""
    meta = certificate["metadata"]
    status = certificate.get("status") or {}
    history = History.from_status(status)
    now = context.clock()
    forced = api.ANNOTATION_RENEW in (meta.get("annotations") or {})
    if not is_repeat(trigger, history, generation=meta.get("generation"), forced=forced, now=now):
        return True, None
    writer = None
    if trigger.reason in SECRET_TRIGGERS and trigger.reason != Reason.SECRET_MISSING:
        written = await context.kube.get_secret(meta["namespace"], spec.secret_name)  # with managedFields
        writer = foreign_writer(((written or {}).get("metadata") or {}).get("managedFields") or [], api.FIELD_MANAGER)
    if history.repeats < LIMIT:
        log.info("%s/%s: repeat %d of %s", meta["namespace"], meta["name"], history.repeats + 1, trigger.reason)
        return True, one_more(history, trigger, now, writer)
    await _stop(context, certificate, spec, trigger, history, writer)
    return False, None


async def _stop(
    context: Context,
    certificate: dict[str, Any],
    spec: CertificateSpec,
    trigger: Trigger,
    history: History,
    writer: str | None,
) -> None:
    """Issuing=False with IssuanceLoop, a back-off like a failure, and one Warning when it is news."""
    meta = certificate["metadata"]
    status = certificate.get("status") or {}
    now = context.clock()
    attempts = int(status.get("failedIssuanceAttempts") or 0) + 1
    retry_at = retry_time(now, attempts)
    text = loop_message(trigger, history, writer=writer, now=now, secret=spec.secret_name, certificate=meta["name"])
    message = f"{text} (next attempt at {timestamp(retry_at)})"
    generation = meta.get("generation")
    previous = find_condition(status.get("conditions") or [], ConditionType.ISSUING) or {}
    conditions = set_condition(
        status.get("conditions") or [],
        ConditionType.ISSUING,
        False,
        Reason.ISSUANCE_LOOP,
        message,
        now=now,
        generation=generation,
    )
    if trigger.reason in SECRET_TRIGGERS:  # the Secret does not hold this Certificate's certificate
        conditions = set_condition(
            conditions, ConditionType.READY, False, trigger.reason, trigger.message, now=now, generation=generation
        )
    repeats = one_more(history, trigger, now, writer, counted=False)  # this one was not issued
    patch = {
        "conditions": conditions,
        "failedIssuanceAttempts": attempts,
        "lastFailureTime": timestamp(now),
        "nextAttemptTime": timestamp(retry_at),
        "issuanceRepeats": repeats.to_status(),
    }
    await context.patch_certificate_status(meta["namespace"], meta["name"], patch)
    if previous.get("reason") != Reason.ISSUANCE_LOOP:
        await context.kube.event(certificate, "Warning", str(Reason.ISSUANCE_LOOP), text, now)
    if context.scheduler is not None:
        context.scheduler.schedule(f"{meta['namespace']}/{meta['name']}", retry_at)


async def sweep_leftovers(
    context: Context, key: str, certificate: dict[str, Any], spec: CertificateSpec, *, idle: bool
) -> None:
    """Delete this Certificate's Challenges (and their solver objects) that no issuance needs; when
    ``idle`` (no order in flight), also a next-key Secret a crash left (from the watch cache, no read)."""
    namespace, name = certificate["metadata"]["namespace"], certificate["metadata"]["name"]
    for challenge in sorted(set((context.challenge_index or {}).get(key, ()))):
        log.info("%s: removing leftover Challenge %s and its solver", key, challenge)
        await context.kube.delete_challenge(namespace, challenge)
    if idle and context.secrets is not None:
        next_key = next_key_name(name)
        spare = context.secrets.get(namespace, next_key)
        in_use = context.secrets.get(namespace, spec.secret_name)
        # Only the key of a finished issuance goes: a key that is not the one in use may belong to an
        # order a crash left unrecorded, which the next issuance finds again through it.
        if (
            spare is not None
            and spec.rotate_key
            and _tls_key(spare) is not None
            and _tls_key(spare) == _tls_key(in_use)
        ):
            log.info("%s: removing leftover Secret %s", key, next_key)
            await context.kube.delete_secret(namespace, next_key)


def _tls_key(secret: dict[str, Any] | None) -> str | None:
    return ((secret or {}).get("data") or {}).get("tls.key")
