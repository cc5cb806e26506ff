"""Between issuances: keep the Secret's metadata as the spec asks, and follow the CA's renewal advice.

ARI (RFC 9773): when the directory offers ``renewalInfo``, the window is fetched after issuance and
again after its Retry-After (after a restart: at a random moment within ``--ari-restart-spread``);
the renewal time is a random moment inside it, kept while it stays inside (so a restart writes
nothing); a window in the past means now; an unusable answer falls back to the default rule, with an
Event that says so. An explicit ``renewBefore`` overrides ARI.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import logging
from typing import Any

from ..acme import ari
from ..acme.client import AcmeClient
from ..acme.errors import AcmeError, ClientError
from ..domain.conditions import Reason, parse_timestamp, timestamp
from ..domain.renewal import renewal_time
from ..domain.specs import CertificateSpec
from ..kube.builders import build_tls_secret
from ..kube.context import Context
from ..pki import certificates as pki_certificates

log = logging.getLogger(__name__)
ARI_ERROR_RETRY = datetime.timedelta(hours=6)  # RFC 9773 §4.3: long-term errors wait six hours


async def repair_metadata(
    context: Context, certificate: dict[str, Any], spec: CertificateSpec, secret: dict[str, Any]
) -> None:
    """Restore labels and annotations the Secret should carry (certwright's and secretTemplate's),
    without a new order: one patch, only when something drifted."""
    meta = secret.get("metadata") or {}
    wanted = build_tls_secret(certificate, spec, chain_pem=b"", key_pem=b"", base=None)["metadata"]
    labels = {k: v for k, v in wanted["labels"].items() if (meta.get("labels") or {}).get(k) != v}
    annotations = {k: v for k, v in wanted["annotations"].items() if (meta.get("annotations") or {}).get(k) != v}
    if not labels and not annotations:
        return
    await context.kube.patch_secret_metadata(meta["namespace"], meta["name"], labels, annotations)
    restored = ", ".join(sorted([*labels, *annotations]))
    await context.kube.event(
        certificate,
        "Normal",
        "SecretMetadataRepaired",
        f"restored {restored} on Secret {spec.secret_name}",
        context.clock(),
    )


async def follow_renewal_info(
    context: Context, certificate: dict[str, Any], spec: CertificateSpec, client: AcmeClient, secret: dict[str, Any]
) -> datetime.datetime | None:
    """Ask the CA when to renew, when it is time to ask; returns when to ask next (None: no ARI)."""
    key = f"{certificate['metadata']['namespace']}/{certificate['metadata']['name']}"
    now = context.clock()
    due = context.ari_next_fetch.get(key)
    if due is None:
        due = _first_check(context, key, certificate, now)
    if now < due:
        return due
    if spec.renew_before is not None:
        return None
    directory = await asyncio.to_thread(lambda: client.directory)
    if directory.renewal_info is None:
        return None
    leaf = pki_certificates.parse_chain(base64.b64decode(secret["data"]["tls.crt"]))[0]
    try:
        info = await asyncio.to_thread(client.renewal_info, leaf)
    except ari.InvalidRenewalInfo as error:
        await _fall_back(context, certificate, spec, leaf, f"the CA's renewal information is unusable ({error})")
        return _next(context, key, now + ARI_ERROR_RETRY)
    except (AcmeError, ClientError) as error:
        log.info("%s: renewal information not available: %s", key, error)
        return _next(context, key, now + ARI_ERROR_RETRY)
    await _apply_window(context, certificate, info)
    return _next(context, key, now + datetime.timedelta(seconds=info.retry_after))


async def first_window(
    context: Context, key: str, spec: CertificateSpec, client: AcmeClient, leaf: Any
) -> tuple[datetime.datetime, dict[str, str]] | None:
    """For a certificate just issued: a renewal time in the CA's window and the window, to go into the
    issuance's own status patch (one request less). None without ARI or on any trouble; the next
    reconcile then asks in the ordinary way, with its fallback and Event."""
    if spec.renew_before is not None:
        return None
    try:
        directory = await asyncio.to_thread(lambda: client.directory)
        if directory.renewal_info is None:
            return None
        info = await asyncio.to_thread(client.renewal_info, leaf)
    except (ari.InvalidRenewalInfo, AcmeError, ClientError):
        return None
    _next(context, key, context.clock() + datetime.timedelta(seconds=info.retry_after))
    window = {"start": timestamp(info.start), "end": timestamp(info.end), "receivedAt": timestamp(context.clock())}
    if info.explanation_url:
        window["explanationURL"] = info.explanation_url
    return ari.choose_renewal_time(info, context.random), window


def _first_check(context: Context, key: str, certificate: dict[str, Any], now: datetime.datetime) -> datetime.datetime:
    """When this process first asks the CA about a certificate it found in place: at a random moment
    within ``ari_restart_spread``, so that a restart with 10,000 Certificates sends no burst of 10,000
    requests to the CA (Let's Encrypt asks for a check twice a day, and the last window is in status);
    at once when the renewal time comes sooner, or the spread is 0."""
    spread = context.settings.ari_restart_spread
    renews = parse_timestamp((certificate.get("status") or {}).get("renewalTime"))
    when = now + datetime.timedelta(seconds=spread * context.random())
    if spread <= 0 or (renews is not None and renews <= when):
        when = now
    return _next(context, key, when)


def _next(context: Context, key: str, when: datetime.datetime) -> datetime.datetime:
    context.ari_next_fetch[key] = when
    return when


async def _apply_window(context: Context, certificate: dict[str, Any], info: ari.RenewalInfo) -> None:
    status = certificate.get("status") or {}
    current = parse_timestamp(status.get("renewalTime"))
    window = {"start": timestamp(info.start), "end": timestamp(info.end)}
    if info.explanation_url:
        window["explanationURL"] = info.explanation_url
    recorded = status.get("lastRenewalInfo") or {}
    same_window = all(recorded.get(k) == v for k, v in window.items())
    window["receivedAt"] = timestamp(context.clock())  # a window already past then asks for a replacement at once
    if same_window and current is not None and info.start <= current <= info.end:
        return  # unchanged: a restart or a re-fetch writes nothing
    chosen = (
        current
        if current is not None and info.start <= current <= info.end
        else ari.choose_renewal_time(info, context.random)
    )
    meta = certificate["metadata"]
    await context.patch_certificate_status(
        meta["namespace"], meta["name"], {"renewalTime": timestamp(chosen), "lastRenewalInfo": window}
    )
    if not recorded and not info.explanation_url:
        return  # the first window after an issuance is routine; the Issued Event already gave the dates
    explanation = f"; the CA explains: {info.explanation_url}" if info.explanation_url else ""
    await context.kube.event(
        certificate,
        "Normal",
        "RenewalInfo",
        f"the CA suggests renewing between {window['start']} and {window['end']}; "
        f"renewal at {timestamp(chosen)}{explanation}",
        context.clock(),
    )


async def _fall_back(context: Context, certificate: dict[str, Any], spec: CertificateSpec, leaf: Any, why: str) -> None:
    info = pki_certificates.certificate_info(leaf)
    default = timestamp(renewal_time(info.not_before, info.not_after, spec.renew_before))
    status = certificate.get("status") or {}
    meta = certificate["metadata"]
    if status.get("renewalTime") == default and not status.get("lastRenewalInfo"):
        return  # already on the default rule, and said so: nothing new
    await context.patch_certificate_status(
        meta["namespace"], meta["name"], {"renewalTime": default, "lastRenewalInfo": None}
    )
    await context.kube.event(
        certificate,
        "Warning",
        str(Reason.ACME_ERROR),
        f"{why}; renewing by the default rule at {default}",
        context.clock(),
    )
