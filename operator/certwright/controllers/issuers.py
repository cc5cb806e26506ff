"""Issuers and ClusterIssuers: observe their spec; write their ACME account and Ready condition.

Level-based (the operator's own watch calls ``observe``; no stored diff-base, no finalizer): every
event recomputes from spec and status, and status is written only when it changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..acme.errors import AcmeError
from ..domain import api
from ..domain.conditions import ConditionType, Reason, find_condition
from ..domain.explain import explain
from ..domain.specs import SpecError, parse_issuer
from ..kube.accounts import AccountSetupError, issuer_key
from ..kube.client import ApiError
from ..kube.context import Context
from ..kube.status import record_ready


def observe(context: Context, kind: str) -> Callable[[str, dict[str, Any]], None]:
    """The handler of the watch of ``kind`` (Issuer or ClusterIssuer)."""

    def account_lost(key: str) -> None:
        # Registered again from its key; the Certificates that use it are woken once it is.
        if key.startswith(f"{kind}/") and key in context.issuers:
            context.runner.trigger(key, lambda: reconcile(context, key))

    context.account_lost_listeners.append(account_lost)

    def observed(event: str, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        key = issuer_key(kind, meta.get("namespace"), meta["name"])
        if event == "DELETED":
            context.issuers.pop(key, None)
            context.accounts.forget(key)
            return
        previous = context.issuers.get(key)
        context.issuers[key] = {**body, "kind": kind, "apiVersion": api.API_VERSION}
        context.runner.trigger(key, lambda: reconcile(context, key))
        if previous is None or _ready_of(previous) != _ready_of(context.issuers[key]):
            # Woken here, where the Certificates will read this very body, not when the status is
            # written: the watch may not have brought it back yet.
            _wake_certificates(context, key)

    return observed


async def reconcile(context: Context, key: str) -> None:
    """Register (or find) the issuer's account and say in Ready whether it is usable."""
    issuer = context.issuers.get(key)
    if issuer is None:
        return
    before = context.accounts.get(key)
    try:
        spec = parse_issuer(issuer.get("spec") or {})
        account = await context.accounts.ensure(key, issuer, spec, context.clock())
    except SpecError as error:
        await _record(context, issuer, False, Reason.INVALID_SPEC, str(error))
    except AccountSetupError as error:
        await _record(context, issuer, False, Reason(error.reason), str(error))
    except AcmeError as error:
        await _record(context, issuer, False, Reason.ACCOUNT_FAILED, explain(error))
    except ApiError as error:  # the account key's Secret refused (a quota, a policy, a namespace going away)
        message = f"the account key Secret could not be read or written: {error}"
        await _record(context, issuer, False, Reason.ACCOUNT_FAILED, message)
    else:
        acme = {"uri": account.account.url, "server": spec.server, "lastRegisteredEmail": spec.email or ""}
        message = f"the ACME account is registered with {spec.server}"
        await _record(context, issuer, True, Reason.ACCOUNT_REGISTERED, message, acme)
    if context.accounts.get(key) is not before:
        # A newly loaded account is news that no event carries (after a restart Ready was already True).
        _wake_certificates(context, key)


async def _record(
    context: Context,
    issuer: dict[str, Any],
    ready: bool,
    reason: Reason,
    message: str,
    acme: dict[str, Any] | None = None,
) -> None:
    plural = api.CLUSTER_ISSUERS if issuer["kind"] == "ClusterIssuer" else api.ISSUERS
    extra = {"acme": acme} if acme is not None else None
    await record_ready(context.kube, issuer, plural, ready, reason, message, now=context.clock(), extra=extra)


def _ready_of(issuer: dict[str, Any]) -> tuple[Any, ...]:
    ready = find_condition((issuer.get("status") or {}).get("conditions") or [], ConditionType.READY) or {}
    return ready.get("status"), ready.get("reason"), ready.get("message")


def _wake_certificates(context: Context, key: str) -> None:
    """Certificates that use this issuer look again (the Certificate controller listens)."""
    for listener in context.issuer_listeners:
        listener(key)
