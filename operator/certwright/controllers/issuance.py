"""One issuance of one Certificate: key, order, HTTP-01 challenges, finalize, Secret, status.

Crash-safe by construction: the next private key is in its own Secret and the order's URL in status
before any challenge is answered, so a restarted operator resumes the same order with the same key
instead of ordering again. Waits (solver readiness, self-check backoff, authorization polling) are
``await``s, so a waiting issuance holds no thread; blocking ACME and API calls run in threads.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Mapping
from typing import Any

from ..acme import ari
from ..acme.client import AcmeClient, Order
from ..acme.errors import AcmeError, AlreadyReplaced, ProblemError
from ..domain import api
from ..domain.conditions import ConditionType, Reason, set_condition, timestamp
from ..domain.explain import explain, reason_for
from ..domain.issuing import Trigger
from ..domain.renewal import renewal_time, retry_time
from ..domain.specs import CertificateSpec, IssuerSpec
from ..kube import builders
from ..kube.client import Conflict
from ..kube.context import Context
from ..pki import certificates as pki_certificates
from ..pki import keys as pki_keys
from ..pki.csr import build_csr
from .challenges import Http01
from .job import IssuanceFailed, Job
from .renewals import first_window

log = logging.getLogger(__name__)
UNREAD = object()  # the reconcile did not read the Secret (a resumed issuance)


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

    async def run(self, trigger: Trigger | None) -> None:
        if api.ANNOTATION_RENEW in (self.certificate["metadata"].get("annotations") or {}):
            # A forced renewal acts once: the annotation goes as this attempt starts, so a failure
            # backs off like any other instead of retrying at once for as long as it stays.
            await self.context.kube.remove_annotation(api.CERTIFICATES, self.namespace, self.name, api.ANNOTATION_RENEW)
        try:
            key_pem = await self._next_key()
            order = await self._order(trigger)
            await self._authorize(order)
            key = pki_keys.key_from_pem(key_pem)
            done = await asyncio.to_thread(self.client.finalize, order, build_csr(key, self.spec.dns_names))
            chain = await asyncio.to_thread(self.client.download, done, self.issuer.preferred_chain)
            await self._store(chain.encode(), key_pem)
        except IssuanceFailed as failure:
            await self._fail(failure)
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

    # -- key and order ---------------------------------------------------------------------------

    async def _next_key(self) -> bytes:
        """The key for this issuance, stored before the order so that a crash cannot lose it."""
        name = self.status.get("nextPrivateKeySecretName")
        if name:
            stored = await self.context.kube.get_secret(self.namespace, name)
            encoded = ((stored or {}).get("data") or {}).get("tls.key")
            if encoded:
                return base64.b64decode(encoded)
        key_pem = await self._reusable_key() or pki_keys.key_to_pem(
            await asyncio.to_thread(pki_keys.generate_key, self.spec.key)
        )
        name = f"{self.name[:240]}-next-key"
        manifest = builders.build_key_secret(self.certificate, name, key_pem)
        try:
            await self.context.kube.create_secret(self.namespace, manifest)
        except Conflict:  # a leftover of an issuance abandoned before its order was recorded
            await self.context.kube.replace_secret(self.namespace, manifest)
        self.status["nextPrivateKeySecretName"] = name
        return key_pem

    async def _reusable_key(self) -> bytes | None:
        """With ``rotationPolicy: Never``, the current key is kept while it still fits the spec."""
        if self.spec.rotate_key:
            return None
        secret = await self.context.kube.get_secret(self.namespace, self.spec.secret_name)
        encoded = ((secret or {}).get("data") or {}).get("tls.key")
        if not encoded:
            return None
        try:
            key = pki_keys.key_from_pem(base64.b64decode(encoded))
        except ValueError:
            return None
        return base64.b64decode(encoded) if pki_keys.key_spec_of(key) == self.spec.key else None

    async def _order(self, trigger: Trigger | None) -> Order:
        """The order in status when the CA still has it for these names; a new one otherwise."""
        recorded = self.status.get("order") or {}
        if recorded.get("url") and sorted(recorded.get("names") or []) == sorted(self.spec.dns_names):
            try:
                order = await asyncio.to_thread(self.client.order, recorded["url"])
            except ProblemError as error:
                log.info("order %s is gone (%s); ordering again", recorded["url"], error)
            else:
                if order.body.status in ("pending", "ready", "processing", "valid"):
                    log.info("resuming order %s (%s)", order.url, order.body.status)
                    return order
        order = await self._new_order()
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
            generation=self.certificate["metadata"].get("generation"),
        )
        await self._patch({k: self.status[k] for k in ("order", "conditions", "nextPrivateKeySecretName")})
        replacing = f"; it replaces {order.body.replaces}" if order.body.replaces else ""
        await self.context.kube.event(
            self.certificate, "Normal", str(Reason.ORDER_CREATED), f"{message}created order {order.url}{replacing}", now
        )
        return order

    async def _new_order(self) -> Order:
        """A new order; with ARI it names the certificate it replaces (RFC 9773 §5), once."""
        replaces = self._predecessor()
        try:
            return await asyncio.to_thread(
                self.client.new_order, self.spec.dns_names, profile=self.issuer.profile, replaces=replaces
            )
        except AlreadyReplaced:
            log.info("%s/%s: %s was already replaced; ordering without replaces", self.namespace, self.name, replaces)
            return await asyncio.to_thread(self.client.new_order, self.spec.dns_names, profile=self.issuer.profile)

    def _predecessor(self) -> str | None:
        """The ARI CertID of the certificate in the Secret, when it is one this Certificate issued."""
        secret = self.secret if isinstance(self.secret, dict) else None
        encoded = ((secret or {}).get("data") or {}).get("tls.crt")
        if not encoded or not self.status.get("revision"):
            return None
        try:
            return ari.cert_id(pki_certificates.parse_chain(base64.b64decode(encoded))[0])
        except ValueError:
            return None

    async def _authorize(self, order: Order) -> None:
        await Http01(self.context, self.certificate, self.spec, self.issuer, self.client).authorize(order)

    # -- results -----------------------------------------------------------------------------------

    async def _store(self, chain_pem: bytes, key_pem: bytes) -> None:
        """Write the Secret in one update, then status, then tidy up."""
        leaf = pki_certificates.parse_chain(chain_pem)[0]
        info = pki_certificates.certificate_info(leaf)
        kube = self.context.kube
        existing = (
            await kube.get_secret(self.namespace, self.spec.secret_name) if self.secret is UNREAD else self.secret
        )
        assert existing is None or isinstance(existing, dict)
        secret = builders.build_tls_secret(
            self.certificate, self.spec, chain_pem=chain_pem, key_pem=key_pem, base=existing
        )
        try:
            if existing is None:
                await kube.create_secret(self.namespace, secret)
            else:
                await kube.replace_secret(self.namespace, secret)
        except Conflict:  # changed (or created) by someone since it was read: merge into the latest
            latest = await kube.get_secret(self.namespace, self.spec.secret_name)
            secret = builders.build_tls_secret(
                self.certificate, self.spec, chain_pem=chain_pem, key_pem=key_pem, base=latest
            )
            await (kube.replace_secret if latest else kube.create_secret)(self.namespace, secret)
        key = f"{self.namespace}/{self.name}"
        self.context.ari_next_fetch.pop(key, None)
        advised = await first_window(self.context, key, self.spec, self.client, leaf)
        renews = advised[0] if advised else renewal_time(info.not_before, info.not_after, self.spec.renew_before)
        now = self.context.clock()
        message = f"certificate issued: valid until {timestamp(info.not_after)}, renews at {timestamp(renews)}"
        generation = self.certificate["metadata"].get("generation")
        conditions = set_condition(
            self.status.get("conditions") or [],
            ConditionType.READY,
            True,
            Reason.ISSUED,
            message,
            now=now,
            generation=generation,
        )
        conditions = set_condition(
            conditions,
            ConditionType.ISSUING,
            False,
            Reason.ISSUED,
            "no issuance in progress",
            now=now,
            generation=generation,
        )
        await self._patch(
            {
                "conditions": conditions,
                "notBefore": timestamp(info.not_before),
                "notAfter": timestamp(info.not_after),
                "renewalTime": timestamp(renews),
                "revision": int(self.status.get("revision") or 0) + 1,
                "order": None,
                "nextPrivateKeySecretName": None,
                "failedIssuanceAttempts": None,
                "lastFailureTime": None,
                "nextAttemptTime": None,
                "lastRenewalInfo": advised[1] if advised else None,
            }
        )
        await kube.delete_secret(
            self.namespace, self.status.get("nextPrivateKeySecretName") or f"{self.name[:240]}-next-key"
        )
        await kube.event(
            self.certificate, "Normal", str(Reason.ISSUED), f"{message}; Secret {self.spec.secret_name} updated", now
        )

    async def _fail(self, failure: IssuanceFailed) -> None:
        now = self.context.clock()
        generation = self.certificate["metadata"].get("generation")
        log.warning("issuance of %s/%s failed: %s", self.namespace, self.name, failure)
        attempts = int(self.status.get("failedIssuanceAttempts") or 0) + 1
        limited = failure.reason == Reason.RATE_LIMITED
        retry_at = timestamp(retry_time(now, attempts, failure.retry_after, rate_limited=limited))
        message = f"{failure} (attempt {attempts}; next attempt at {retry_at})"
        conditions = set_condition(
            self.status.get("conditions") or [],
            ConditionType.ISSUING,
            False,
            failure.reason,
            message,
            now=now,
            generation=generation,
        )
        if not self.status.get("notAfter"):
            conditions = set_condition(
                conditions, ConditionType.READY, False, failure.reason, message, now=now, generation=generation
            )
        patch: dict[str, Any] = {
            "conditions": conditions,
            "lastFailureTime": timestamp(now),
            "failedIssuanceAttempts": attempts,
            "nextAttemptTime": retry_at,
        }
        if failure.order_spent:
            patch["order"] = None
        await self._patch(patch)
        await self.context.kube.event(self.certificate, "Warning", str(failure.reason), message, now)

    async def _patch(self, status: Mapping[str, Any]) -> None:
        await self.context.kube.patch_status(api.CERTIFICATES, self.namespace, self.name, dict(status))
