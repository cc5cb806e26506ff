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
from ..acme.client import AcmeClient, Authorization, Order
from ..acme.errors import AcmeError, AlreadyReplaced, ProblemError
from ..acme.selfcheck import check_http01
from ..domain import api
from ..domain.conditions import ConditionType, Reason, set_condition, timestamp
from ..domain.explain import explain, reason_for
from ..domain.issuing import Trigger
from ..domain.renewal import renewal_time, retry_time
from ..domain.specs import CertificateSpec, IssuerSpec, solver_for
from ..kube import builders
from ..kube.client import Conflict
from ..kube.context import Context
from ..pki import certificates as pki_certificates
from ..pki import keys as pki_keys
from ..pki.csr import build_csr

log = logging.getLogger(__name__)
POD_READY_TIMEOUT = 120.0
UNREAD = object()  # the reconcile did not read the Secret (a resumed issuance)
AUTHORIZATION_TIMEOUT = 300.0


class IssuanceFailed(Exception):
    """An issuance step failed; ``reason`` goes on the conditions and the Event, ``order_spent`` says
    whether the order is unusable (a new one is needed next time)."""

    def __init__(
        self, reason: Reason, message: str, *, order_spent: bool = False, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.order_spent = order_spent
        self.retry_after = retry_after


class Issuance:
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
        self.context = context
        self.certificate = certificate
        self.spec = spec
        self.issuer = issuer
        self.client = client
        self.namespace = certificate["metadata"]["namespace"]
        self.name = certificate["metadata"]["name"]
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

    # -- challenges --------------------------------------------------------------------------------

    async def _authorize(self, order: Order) -> None:
        pending = await asyncio.to_thread(self.client.pending_authorizations, order)
        challenges = [await self._present(authorization) for authorization in pending]
        try:
            await asyncio.gather(
                *(
                    self._validate(authorization, challenge)
                    for authorization, challenge in zip(pending, challenges, strict=True)
                )
            )
        finally:
            for challenge in challenges:
                await self.context.kube.delete_challenge(self.namespace, challenge["metadata"]["name"])

    async def _present(self, authorization: Authorization) -> dict[str, Any]:
        """Create the Challenge and its solver Pod, Service and Ingress (existing ones are kept)."""
        name = authorization.body.identifier.value
        acme_challenge = authorization.body.challenge("http-01")
        solver = solver_for(self.issuer.solvers, name)
        if acme_challenge is None or solver is None:
            raise IssuanceFailed(Reason.NO_SOLVER, f"no HTTP-01 challenge or solver for {name}", order_spent=True)
        manifest = builders.build_challenge(
            self.certificate,
            dns_name=name,
            token=acme_challenge.token,
            url=acme_challenge.url,
            authorization_url=authorization.url,
            issuer=self.spec.issuer_ref,
            solver_index=self.issuer.solvers.index(solver),
        )
        challenge = await self.context.kube.create(manifest)
        key_authorization = self.client.key_authorization(acme_challenge)
        image = self.context.settings.solver_image
        for manifest in (
            builders.build_solver_pod(challenge, solver, image=image, key_authorization=key_authorization),
            builders.build_solver_service(challenge, solver),
            builders.build_solver_ingress(challenge, solver),
        ):
            await self.context.kube.create(manifest)
        return challenge

    async def _validate(self, authorization: Authorization, challenge: dict[str, Any]) -> None:
        """Wait for the solver, self-check, accept, and poll until the authorization is final."""
        name = authorization.body.identifier.value
        acme_challenge = authorization.body.challenge("http-01")
        solver = solver_for(self.issuer.solvers, name)
        assert acme_challenge is not None
        assert solver is not None
        pod = builders.solver_name(challenge["metadata"]["name"])
        if not await self.context.pods.wait_ready(self.namespace, pod, POD_READY_TIMEOUT):
            await self._challenge_state(
                challenge, "errored", f"solver Pod {pod} was not Ready within {POD_READY_TIMEOUT:.0f} s"
            )
            raise IssuanceFailed(
                Reason.SELF_CHECK_FAILED,
                f"solver Pod {self.namespace}/{pod} for {name} did not become Ready; see kubectl describe pod",
            )
        if acme_challenge.status == "pending":
            if solver.self_check.mode == "Wait":
                await asyncio.sleep(solver.self_check.wait_seconds)
            else:
                await self._self_check(
                    challenge,
                    name,
                    acme_challenge.token,
                    self.client.key_authorization(acme_challenge),
                    solver.self_check.timeout_seconds,
                )
            await asyncio.to_thread(self.client.answer, acme_challenge)
            await self._challenge_state(challenge, "processing", "the CA is validating")
        await self._poll(authorization.url, challenge)

    async def _self_check(
        self, challenge: dict[str, Any], name: str, token: str, key_authorization: str, timeout: float
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = 0.1
        nameservers = self.context.settings.selfcheck_nameservers
        while True:
            result = await asyncio.to_thread(check_http01, name, token, key_authorization, nameservers=nameservers)
            if result.ok:
                return
            if loop.time() + delay > deadline:
                message = (
                    f"self-check of http://{name}/.well-known/acme-challenge/{token} failed for {timeout:.0f} s at the "
                    f"{result.hop} hop: {result.detail}. The CA was not asked to validate, so no failed "
                    "validation counts against your rate limits; fix the route and the issuance retries."
                )
                await self._challenge_state(challenge, "errored", f"{result.hop}: {result.detail}")
                raise IssuanceFailed(Reason.SELF_CHECK_FAILED, message)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _poll(self, url: str, challenge: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + AUTHORIZATION_TIMEOUT
        delay = 0.05
        while True:
            authorization, retry_after = await asyncio.to_thread(self.client.read_authorization, url)
            status = authorization.body.status
            if status == "valid":
                return
            if status != "pending":
                problem = authorization.body.failure()
                name = authorization.body.identifier.value
                await self._challenge_state(challenge, "invalid", str(problem or status))
                raise IssuanceFailed(
                    Reason.AUTHORIZATION_FAILED,
                    f"authorization for {name} is {status}: {problem or 'no reason given'}. The CA could not fetch "
                    f"http://{name}/.well-known/acme-challenge/…: check that {name} resolves to your ingress and "
                    "that port 80 is reachable from the internet",
                    order_spent=True,
                )
            if loop.time() > deadline:
                raise IssuanceFailed(
                    Reason.AUTHORIZATION_FAILED,
                    f"authorization {url} still pending after {AUTHORIZATION_TIMEOUT:.0f} s",
                )
            await asyncio.sleep(min(delay, retry_after if retry_after else delay))
            delay = min(delay * 2, 5.0)

    async def _challenge_state(self, challenge: dict[str, Any], state: str, reason: str) -> None:
        meta = challenge["metadata"]
        now = timestamp(self.context.clock())
        await self.context.kube.patch_challenge_status(
            self.namespace, meta["name"], {"state": state, "reason": reason, "checkedAt": now}
        )

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
        now = self.context.clock()
        renews = renewal_time(info.not_before, info.not_after, self.spec.renew_before)
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
            }
        )
        self.context.ari_next_fetch.pop(f"{self.namespace}/{self.name}", None)  # ask about the new one
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
