"""HTTP-01 for one issuance: a Challenge and its solver per pending authorization, checked, accepted.

Each authorization: create the Challenge, the solver Pod, Service and Ingress; wait for the Pod to be
Ready (a watch, not a sleep); fetch the URL as the CA will (or wait a fixed time, for hairpin NAT);
accept; poll from 50 ms under the CA's Retry-After; then delete the Challenge and its solver objects.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..acme.client import Authorization, Order
from ..acme.selfcheck import check_http01
from ..domain.conditions import Reason, timestamp
from ..domain.specs import solver_for
from ..kube import builders
from .job import IssuanceFailed, Job

POD_READY_TIMEOUT = 120.0
AUTHORIZATION_TIMEOUT = 300.0


class Http01(Job):
    """Solves the pending authorizations of one order."""

    async def authorize(self, order: Order) -> None:
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
