"""DNS records of Challenges that someone else deletes: the garbage collector after their Certificate
went, the sweep of an interrupted issuance's leftovers, a person. A DNS-01 Challenge carries a
finalizer, so it stays until its TXT record is removed; then the finalizer goes.

Observes (through the operator's own watch of Challenges, which also keeps the index of Challenges by
Certificate): Challenges being deleted that still carry ``certwright.dev/dns-record``. Writes: the record's
removal through the solver the Challenge keeps, then the Challenge's finalizers; after the last retry,
a Warning Event that names the record to remove by hand (a Challenge is never held for ever).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ..dns.errors import CONFIG_INVALID, PROVIDER_FAILED, PROVIDER_NOT_FOUND, SECRET_MISSING, DnsError
from ..domain import api
from ..domain.conditions import Reason
from ..kube.context import Context
from ..kube.dns import challenge_record, remove_record

log = logging.getLogger(__name__)
RETRY_DELAYS = (5.0, 15.0, 60.0, 300.0, 900.0)  # seconds before each further attempt
# What waiting does not fix (a Secret deleted with its namespace, a plug-in not installed): one retry,
# then the Challenge goes, so that deleting a namespace is never held for long.
LASTING = frozenset({SECRET_MISSING, CONFIG_INVALID, PROVIDER_NOT_FOUND})


def observe(context: Context) -> Callable[[str, dict[str, Any]], None]:
    """The handler of the Challenges' watch: keep the index of Challenges by Certificate (the sweep of
    an interrupted issuance's leftovers reads it), and release deleted DNS-01 Challenges."""

    def observed(event: str, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        _index(context, event, meta["namespace"], meta["name"], (body.get("spec") or {}).get("certificateName"))
        if not meta.get("deletionTimestamp") or api.FINALIZER_DNS_RECORD not in (meta.get("finalizers") or []):
            return
        context.runner.trigger(f"Challenge/{meta['namespace']}/{meta['name']}", lambda: release(context, body))

    return observed


def _index(context: Context, event: str, namespace: str, name: str, certificate: str | None) -> None:
    if not certificate:
        return
    key = f"{namespace}/{certificate}"
    names = context.challenge_index.setdefault(key, set())
    if event == "DELETED":
        names.discard(name)
    else:
        names.add(name)
    if not names:
        del context.challenge_index[key]


async def release(context: Context, challenge: dict[str, Any]) -> None:
    """Remove the Challenge's record (retrying with growing waits), then let the Challenge go."""
    meta = challenge["metadata"]
    settings = context.settings
    error: DnsError | None = None
    attempts = 0
    for delay in (0.0, *RETRY_DELAYS):
        if error is not None and error.reason in LASTING and attempts >= 2:
            break
        await asyncio.sleep(delay)
        attempts += 1
        try:
            await remove_record(
                context.kube,
                challenge,
                cluster_resource_namespace=settings.cluster_resource_namespace,
                nameservers=settings.selfcheck_nameservers,
            )
        except Exception as failure:  # noqa: BLE001 (an API error too must not hold the Challenge for ever)
            error = failure if isinstance(failure, DnsError) else DnsError(PROVIDER_FAILED, str(failure))
            log.warning("%s/%s: TXT record not removed yet: %s", meta["namespace"], meta["name"], failure)
            continue
        error = None
        break
    if error is not None:
        found = challenge_record(challenge)
        where = f"TXT value {found[1].value} at {found[1].fqdn}" if found else "its TXT record"
        message = f"gave up removing {where} after {attempts} attempts: {error}; remove it by hand"
        await context.kube.event(challenge, "Warning", str(Reason.DNS_RECORD_LEFT), message, context.clock())
    others = [f for f in meta.get("finalizers") or [] if f != api.FINALIZER_DNS_RECORD]
    await context.kube.release_challenge(meta["namespace"], meta["name"], others)
