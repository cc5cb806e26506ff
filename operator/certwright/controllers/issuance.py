"""One issuance of one Certificate: key, order, challenges (HTTP-01, DNS-01), finalize, Secret, status.

Crash-safe by construction: the next private key is in its own Secret and the order's URL in status
before any challenge is answered, so a restarted operator resumes the same order with the same key
instead of ordering again; an order the CA has finalized is only waited for and downloaded, never
finalized again or replaced (issue 10). A spec that changes mid-issuance abandons the order before
finalize, or marks what was issued as stale so that the next issuance starts at once. Waits (solver
readiness, self-check backoff, authorization polling) are ``await``s, so a waiting issuance holds no
thread; blocking ACME and API calls run in threads.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Mapping
from typing import Any

from ..acme.client import AcmeClient, Order
from ..acme.errors import AccountDoesNotExist, AcmeError, ProblemError, RateLimited
from ..domain import api
from ..domain.conditions import ConditionType, Reason, find_condition, set_condition, timestamp
from ..domain.continuity import cert_id, differs, predecessor
from ..domain.explain import explain, reason_for
from ..domain.issuing import Trigger
from ..domain.loops import SECRET_TRIGGERS, Repeats
from ..domain.renewal import ignored_note, renewal, retry_time
from ..domain.specs import CertificateSpec, IssuerSpec
from ..kube import builders
from ..kube.client import ApiError, Conflict, NotFound
from ..kube.context import Context, certificate_issuer_key
from ..pki import certificates as pki_certificates
from ..pki import keys as pki_keys
from ..pki.csr import build_csr
from .challenges import Authorizer
from .guards import sweep_leftovers
from .job import IssuanceFailed, Job
from .keys import Keys
from .renewals import first_window

log = logging.getLogger(__name__)
UNREAD = object()  # the reconcile did not read the Secret (a resumed issuance)


class SpecChanged(Exception):
    """The spec changed under a running issuance: its order is abandoned before anything is issued."""


class Issuance(Job):
    """The steps of one issuance; each writes as little as it can."""

    def __init__(
        self,
        context: Context,
        certificate: dict[str, Any],
        spec: CertificateSpec,
        issuer: IssuerSpec,
        client: AcmeClient,
        secret: object = UNREAD,
    ) -> None:
        super().__init__(context, certificate, spec, issuer, client)
        self.status: dict[str, Any] = dict(certificate.get("status") or {})
        self.secret = secret  # the Secret as the reconcile read it (None: absent), or UNREAD
        self.generation: int | None = certificate["metadata"].get("generation")
        self.resumed = False  # the order was placed by an earlier run (its Challenges may be left over)
        self.repeats: Repeats | None = None
        self.trigger = "Resumed"  # what started it, for metrics: a trigger's reason, or an order in status
        self.started = context.clock()

    async def run(self, trigger: Trigger | None, repeats: Repeats | None = None) -> None:
        self.trigger = str(trigger.reason) if trigger else "Resumed"
        self.started = self.context.clock()
        if api.ANNOTATION_RENEW in (self.certificate["metadata"].get("annotations") or {}):
            # A forced renewal acts once: the annotation goes as this attempt starts, so a failure
            # backs off like any other instead of retrying at once for as long as it stays.
            await self.context.kube.remove_annotation(api.CERTIFICATES, self.namespace, self.name, api.ANNOTATION_RENEW)
        self.repeats = repeats
        try:
            keys = Keys(self.context, self.certificate, self.spec, self.issuer, self.client, self.secret)
            key_pem, leftover = await keys.next_key(self.status)
            order = await self._order(trigger, leftover)
            self._still_current()
            if order.body.status == "pending":
                await self._authorize(order)
                self._still_current()
            key = pki_keys.key_from_pem(key_pem)
            done = await asyncio.to_thread(self.client.finish, order, build_csr(key, self.spec.dns_names))
            self.status["order"] = {**self.status["order"], "state": "valid"}
            chain = await asyncio.to_thread(self.client.download, done, self.issuer.preferred_chain)
            await self._store(chain.encode(), await keys.matching(chain.encode(), key_pem, done.url))
            self._count("issued", Reason.ISSUED)
        except SpecChanged as changed:
            await self._abandon(str(changed))
            self._count("abandoned", Reason.SPEC_CHANGED)
        except IssuanceFailed as failure:
            await self._fail(failure)
        except AccountDoesNotExist as error:
            await self._fail(self._account_lost(error))
        except AcmeError as error:
            spent = isinstance(error, ProblemError) and error.problem.status in (403, 404)
            await self._fail(
                IssuanceFailed(
                    reason_for(error),
                    explain(error),
                    order_spent=spent,
                    retry_after=getattr(error, "retry_after", None),
                )
            )
        finally:
            if self.resumed:
                await sweep_leftovers(
                    self.context, f"{self.namespace}/{self.name}", self.certificate, self.spec, idle=False
                )

    def _account_lost(self, error: AccountDoesNotExist) -> IssuanceFailed:
        """The CA forgot the account (reset, as Pebble on a restart; or removed): the issuer registers it
        again from its key, and the next attempt comes at once — but only once in a row, so a CA that
        keeps forgetting is backed off like any other failure. The order went with the account."""
        issuer = certificate_issuer_key(self.certificate)
        log.warning("%s/%s: the CA does not know %s's account; registering it again", self.namespace, self.name, issuer)
        self.context.account_lost(issuer)
        previous = find_condition(self.status.get("conditions") or [], ConditionType.ISSUING) or {}
        first = previous.get("reason") != Reason.ACCOUNT_NOT_FOUND
        return IssuanceFailed(Reason.ACCOUNT_NOT_FOUND, explain(error), order_spent=True, at_once=first)

    # -- key and order ---------------------------------------------------------------------------

    async def _order(self, trigger: Trigger | None, leftover: bool) -> Order:
        """The order in status when the CA still has it for these names; one an interrupted run placed
        but did not record; a new one otherwise."""
        recorded = self.status.get("order") or {}
        if recorded.get("url") and sorted(recorded.get("names") or []) == sorted(self.spec.dns_names):
            try:
                order = await asyncio.to_thread(self.client.order, recorded["url"])
            except ProblemError as error:
                if error.problem.status != 404:
                    raise  # a CA in trouble is a failure to retry, not a reason to order anew
                log.info("order %s is gone (%s); ordering again", recorded["url"], error)
            else:
                if order.body.status in ("pending", "ready", "processing", "valid"):
                    log.info("resuming order %s (%s)", order.url, order.body.status)
                    self.resumed = True
                    return order
        elif recorded.get("url"):
            log.info("%s/%s: abandoning order %s for the old names", self.namespace, self.name, recorded["url"])
        if leftover:
            found = await asyncio.to_thread(self.client.find_order, self.spec.dns_names)
            if found is not None:
                log.info("%s/%s: resuming unrecorded order %s", self.namespace, self.name, found.url)
                self.resumed = True
                await self._record(found, trigger, created=False)
                return found
        order = await self._new_order()
        await self._record(order, trigger, created=True)
        return order

    async def _record(self, order: Order, trigger: Trigger | None, *, created: bool) -> None:
        """The order and the key's Secret into status (one patch) before any challenge is answered."""
        now = self.context.clock()
        reason = trigger.reason if trigger else Reason.ORDER_CREATED
        message = f"{trigger.message}; " if trigger else ""
        self.status["order"] = {"url": order.url, "state": order.body.status, "names": list(self.spec.dns_names)}
        self.status["conditions"] = set_condition(
            self.status.get("conditions") or [],
            ConditionType.ISSUING,
            True,
            reason,
            f"{message}order {order.url} is {order.body.status}",
            now=now,
            generation=self.generation,
        )
        if trigger is not None and trigger.reason in SECRET_TRIGGERS:  # the Secret does not serve this spec
            self.status["conditions"] = set_condition(
                self.status["conditions"],
                ConditionType.READY,
                False,
                trigger.reason,
                trigger.message,
                now=now,
                generation=self.generation,
            )
        patch = {k: self.status[k] for k in ("order", "conditions", "nextPrivateKeySecretName")}
        if trigger is not None:
            patch["issuanceRepeats"] = self.repeats.to_status() if self.repeats else None
        await self._patch(patch)
        if not created:
            return
        replacing = f"; it replaces {order.body.replaces}" if order.body.replaces else ""
        await self.context.kube.event(
            self.certificate, "Normal", str(Reason.ORDER_CREATED), f"{message}created order {order.url}{replacing}", now
        )

    async def _new_order(self) -> Order:
        """A new order; with ARI it names the certificate it replaces (RFC 9773 §5). Any refusal of
        ``replaces`` (already replaced, an identifier in common missing, a CertID the CA does not know)
        is retried once without it: the renewal matters, not the link."""
        replaces = predecessor(self.secret, self.status, self.spec)
        try:
            return await asyncio.to_thread(
                self.client.new_order, self.spec.dns_names, profile=self.issuer.profile, replaces=replaces
            )
        except RateLimited:
            raise
        except ProblemError as error:
            if replaces is None:
                raise
            log.info(
                "%s/%s: the CA refused replaces %s (%s); ordering without", self.namespace, self.name, replaces, error
            )
            return await asyncio.to_thread(self.client.new_order, self.spec.dns_names, profile=self.issuer.profile)

    async def _authorize(self, order: Order) -> None:
        await Authorizer(self.context, self.certificate, self.spec, self.issuer, self.client).authorize(order)

    def _still_current(self) -> None:
        """Raise SpecChanged when the Certificate now asks for something else than this issuance makes."""
        latest = self.context.certificates.get(f"{self.namespace}/{self.name}")
        if latest is None or latest["metadata"].get("generation") == self.generation:
            return
        if differs(latest, self.spec):
            raise SpecChanged(
                f"the spec changed (generation {latest['metadata'].get('generation')}) while generation "
                f"{self.generation} was being issued; issuing again for the new spec"
            )

    # -- results -----------------------------------------------------------------------------------

    async def _store(self, chain_pem: bytes, key_pem: bytes) -> None:
        """Write the Secret in one update, then status, then tidy up."""
        leaf = pki_certificates.parse_chain(chain_pem)[0]
        info = pki_certificates.certificate_info(leaf)
        await self._write_secret(chain_pem, key_pem)
        key = f"{self.namespace}/{self.name}"
        self.context.ari_next_fetch.pop(key, None)
        advised = await first_window(self.context, key, self.spec, self.client, leaf)
        plan = renewal(info.not_before, info.not_after, self.spec.renew_before)
        renews = timestamp(advised[0] if advised else plan.at)
        now = self.context.clock()
        message = f"certificate issued: valid until {timestamp(info.not_after)}, renews at {renews}"
        note = ""
        if plan.renew_before_ignored and not advised:
            note = ignored_note(str(self.spec.renew_before_text), info.not_before, info.not_after, renews)
            message += f" ({note})"
        latest = self.context.certificates.get(key, self.certificate)
        stale = latest["metadata"].get("generation") != self.generation and differs(latest, self.spec)
        conditions = self._done_conditions(message, stale, now)
        await self._patch(
            {
                "conditions": conditions,
                "notBefore": timestamp(info.not_before),
                "notAfter": timestamp(info.not_after),
                "renewalTime": renews,
                "revision": int(self.status.get("revision") or 0) + 1,
                "certificateGeneration": self.generation,
                "certID": cert_id(leaf),
                "order": None,
                "nextPrivateKeySecretName": None,
                "failedIssuanceAttempts": None,
                "lastFailureTime": None,
                "nextAttemptTime": None,
                "lastRenewalInfo": advised[1] if advised else None,
            }
        )
        kube = self.context.kube
        await kube.delete_secret(
            self.namespace, self.status.get("nextPrivateKeySecretName") or builders.next_key_name(self.name)
        )
        await kube.event(
            self.certificate, "Normal", str(Reason.ISSUED), f"{message}; Secret {self.spec.secret_name} updated", now
        )
        if note:
            await kube.event(self.certificate, "Warning", str(Reason.RENEW_BEFORE_TOO_LONG), note, now)

    def _done_conditions(self, message: str, stale: bool, now: datetime.datetime) -> list[dict[str, Any]]:
        """Ready=True for the spec this issuance made; for a spec that changed meanwhile, Ready=False
        until the next issuance (which starts at once) makes what it asks for."""
        generation = self.generation
        if stale:
            why = f"{message}, but for generation {generation}; the spec changed since: issuing again"
            conditions = set_condition(
                self.status.get("conditions") or [], ConditionType.READY, False, Reason.SPEC_CHANGED, why, now=now
            )
            return set_condition(conditions, ConditionType.ISSUING, False, Reason.SPEC_CHANGED, why, now=now)
        conditions = set_condition(
            self.status.get("conditions") or [],
            ConditionType.READY,
            True,
            Reason.ISSUED,
            message,
            now=now,
            generation=generation,
        )
        return set_condition(
            conditions,
            ConditionType.ISSUING,
            False,
            Reason.ISSUED,
            "no issuance in progress",
            now=now,
            generation=generation,
        )

    async def _write_secret(self, chain_pem: bytes, key_pem: bytes) -> None:
        """Create or update the TLS Secret; a refusal (an admission policy, a quota, a type that cannot
        change) keeps the order in status, so the next attempt stores this same certificate."""
        kube = self.context.kube
        existing = (
            await kube.get_secret(self.namespace, self.spec.secret_name) if self.secret is UNREAD else self.secret
        )
        assert existing is None or isinstance(existing, dict)
        secret = builders.build_tls_secret(
            self.certificate, self.spec, chain_pem=chain_pem, key_pem=key_pem, base=existing
        )
        try:
            try:
                await (kube.replace_secret if existing else kube.create_secret)(self.namespace, secret)
            except (Conflict, NotFound):  # changed (or created, or deleted) since it was read: the latest
                latest = await kube.get_secret(self.namespace, self.spec.secret_name)
                secret = builders.build_tls_secret(
                    self.certificate, self.spec, chain_pem=chain_pem, key_pem=key_pem, base=latest
                )
                await (kube.replace_secret if latest else kube.create_secret)(self.namespace, secret)
        except (ApiError, Conflict, NotFound) as error:
            raise IssuanceFailed(
                Reason.SECRET_WRITE_FAILED,
                f"the CA issued the certificate, but Secret {self.spec.secret_name} could not be written: {error}. "
                f"The certificate is kept at the CA's order and stored on the next attempt, without a new order",
            ) from error

    async def _fail(self, failure: IssuanceFailed) -> None:
        now = self.context.clock()
        log.warning("issuance of %s/%s failed: %s", self.namespace, self.name, failure)
        attempts = int(self.status.get("failedIssuanceAttempts") or 0) + 1
        limited = failure.reason == Reason.RATE_LIMITED
        retry_at = timestamp(
            now + datetime.timedelta(seconds=1)
            if failure.at_once
            else retry_time(now, attempts, failure.retry_after, rate_limited=limited)
        )
        message = f"{failure} (attempt {attempts}; next attempt at {retry_at})"
        patch = self._ended(failure.reason, message, now)
        patch.update(
            {"lastFailureTime": timestamp(now), "failedIssuanceAttempts": attempts, "nextAttemptTime": retry_at}
        )
        if failure.order_spent:
            patch["order"] = None
        elif self.status.get("order"):
            patch["order"] = self.status["order"]  # with the state it reached
        await self._patch(patch)
        await self.context.kube.event(self.certificate, "Warning", str(failure.reason), message, now)
        self._count("failed", failure.reason)

    def _count(self, outcome: str, reason: Reason) -> None:
        seconds = (self.context.clock() - self.started).total_seconds()
        self.context.metrics.issuance(outcome, self.trigger, str(reason), seconds)

    async def _abandon(self, message: str) -> None:
        """The spec changed mid-issuance: drop this order (nothing was issued) and go again at once."""
        log.info("%s/%s: %s", self.namespace, self.name, message)
        patch = self._ended(Reason.SPEC_CHANGED, message, self.context.clock(), ready=True)
        patch["order"] = None
        await self._patch(patch)
        self.context.wake_certificate(f"{self.namespace}/{self.name}")

    def _ended(self, reason: Reason, message: str, now: datetime.datetime, *, ready: bool = False) -> dict[str, Any]:
        """Issuing=False (and Ready=False when no certificate exists, or ``ready``); a repeat that
        issued nothing is not counted."""
        conditions = set_condition(
            self.status.get("conditions") or [],
            ConditionType.ISSUING,
            False,
            reason,
            message,
            now=now,
            generation=self.generation,
        )
        if ready or not self.status.get("notAfter"):
            conditions = set_condition(
                conditions, ConditionType.READY, False, reason, message, now=now, generation=self.generation
            )
        patch: dict[str, Any] = {"conditions": conditions}
        if self.repeats is not None:
            patch["issuanceRepeats"] = (self.certificate.get("status") or {}).get("issuanceRepeats")
        return patch

    async def _patch(self, status: Mapping[str, Any]) -> None:
        await self.context.patch_certificate_status(self.namespace, self.name, dict(status))
