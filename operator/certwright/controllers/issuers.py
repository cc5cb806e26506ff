"""Issuers and ClusterIssuers: observe their spec; write their ACME account and Ready condition.

Level-based (kopf ``on.event``, no stored diff-base, no finalizer): every event recomputes from spec
and status, and status is written only when it changes.
"""

from __future__ import annotations

from typing import Any

import kopf

from ..acme.errors import AcmeError, ExternalAccountRequired, UserActionRequired
from ..domain import api
from ..domain.conditions import ConditionType, Reason, find_condition, set_condition
from ..domain.specs import SpecError, parse_issuer
from ..kube.accounts import AccountSetupError, issuer_key
from ..kube.context import Context


def setup(registry: kopf.OperatorRegistry) -> None:
    for plural, kind in ((api.ISSUERS, "Issuer"), (api.CLUSTER_ISSUERS, "ClusterIssuer")):
        kopf.on.event(api.GROUP, api.VERSION, plural, registry=registry)(_observer(kind))


def _observer(kind: str) -> Any:
    async def observed(event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
        context: Context = memo["context"]
        key = issuer_key(kind, body.metadata.namespace, body.metadata.name)
        if event["type"] == "DELETED":
            context.issuers.pop(key, None)
            context.accounts.forget(key)
            return
        context.issuers[key] = {**dict(body), "kind": kind}
        context.runner.trigger(key, lambda: reconcile(context, key))

    return observed


async def reconcile(context: Context, key: str) -> None:
    """Register (or find) the issuer's account and say in Ready whether it is usable."""
    issuer = context.issuers.get(key)
    if issuer is None:
        return
    try:
        spec = parse_issuer(issuer.get("spec") or {})
        account = await context.accounts.ensure(key, issuer, spec, context.clock())
    except SpecError as error:
        await _record(context, issuer, False, Reason.INVALID_SPEC, str(error))
    except AccountSetupError as error:
        await _record(context, issuer, False, Reason(error.reason), str(error))
    except AcmeError as error:
        await _record(context, issuer, False, Reason.ACCOUNT_FAILED, explain(error))
    else:
        acme = {"uri": account.account.url, "server": spec.server, "lastRegisteredEmail": spec.email or ""}
        await _record(
            context, issuer, True, Reason.ACCOUNT_REGISTERED, f"the ACME account is registered with {spec.server}", acme
        )
    _wake_certificates(context, key)


def explain(error: AcmeError) -> str:
    """The ACME error verbatim, with the next step the user can take."""
    if isinstance(error, ExternalAccountRequired):
        return f"{error}; the CA requires external account binding: set spec.acme.externalAccountBinding"
    if isinstance(error, UserActionRequired):
        return f"{error}; a person must act at {error.problem.instance or 'the CA'} (for example, agree to new terms)"
    return str(error)


async def _record(
    context: Context,
    issuer: dict[str, Any],
    ready: bool,
    reason: Reason,
    message: str,
    acme: dict[str, Any] | None = None,
) -> None:
    status = issuer.get("status") or {}
    previous = find_condition(status.get("conditions") or [], ConditionType.READY)
    same = previous is not None and (previous.get("status"), previous.get("reason"), previous.get("message")) == (
        "True" if ready else "False",
        str(reason),
        message,
    )
    if same and (acme is None or status.get("acme") == acme):
        return
    now = context.clock()
    patch: dict[str, Any] = {
        "conditions": set_condition(
            status.get("conditions") or [],
            ConditionType.READY,
            ready,
            reason,
            message,
            now=now,
            generation=issuer["metadata"].get("generation"),
        )
    }
    if acme is not None:
        patch["acme"] = acme
    meta = issuer["metadata"]
    plural = api.CLUSTER_ISSUERS if issuer["kind"] == "ClusterIssuer" else api.ISSUERS
    await context.kube.patch_status(plural, meta.get("namespace"), meta["name"], patch)
    await context.kube.event(issuer, "Normal" if ready else "Warning", str(reason), message, now)


def _wake_certificates(context: Context, key: str) -> None:
    """Certificates that use this issuer look again (the Certificate controller listens)."""
    for listener in context.issuer_listeners:
        listener(key)
