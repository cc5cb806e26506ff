"""The challenges of one issuance: a Challenge per pending authorization, presented, checked, accepted.

HTTP-01: the solver Pod, Service and Ingress; wait for the Pod to be Ready (a watch, not a sleep);
fetch the URL as the CA will. DNS-01: the TXT record at ``_acme-challenge.<name>`` (a CNAME there
followed on request) through the solver's DNS provider; ask the zone's nameservers until each serves
it. Either way (or after a fixed wait, for set-ups the check cannot see), accept; poll from 50 ms
under the CA's Retry-After; then remove the record or the solver objects, and the Challenge.

A DNS-01 Challenge is created before its record is added and carries a finalizer, so a record never
exists without a Challenge that says how to remove it (``dnsrecords`` removes it when the Challenge
is deleted by anyone else, also after a crash).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from ..acme.client import Authorization, Order
from ..acme.messages import ChallengeBody
from ..acme.selfcheck import check_http01
from ..dns import propagation, zones
from ..dns.errors import PROPAGATION_TIMED_OUT, DnsError
from ..dns.provider import DnsProvider, Record
from ..domain import api, routes
from ..domain.conditions import Reason, timestamp
from ..domain.specs import Solver, solver_for
from ..kube import builders
from ..kube.client import ApiError
from ..kube.dns import provider_for, secret_namespace
from ..kube.metrics import ChallengeState
from .job import IssuanceFailed, Job

log = logging.getLogger(__name__)
POD_READY_TIMEOUT = 120.0
KEEPER_RETRY = 5.0  # seconds between attempts to make a solver Pod again
AUTHORIZATION_TIMEOUT = 300.0


@dataclass
class Presented:
    """One authorization as this issuance answers it."""

    authorization: Authorization
    acme: ChallengeBody
    solver: Solver
    challenge: dict[str, Any]
    provider: DnsProvider | None = None
    record: Record | None = None
    record_added: bool = False
    pod: dict[str, Any] | None = None  # the HTTP-01 solver Pod's manifest, to make it again

    @property
    def name(self) -> str:
        return str(self.challenge["metadata"]["name"])


def dns_name(authorization: Authorization) -> str:
    """The name as the Certificate writes it: a wildcard's authorization names its base (§7.1.4)."""
    value = str(authorization.body.identifier.value)
    return f"*.{value}" if authorization.body.wildcard else value


class Authorizer(Job):
    """Solves the pending authorizations of one order."""

    async def authorize(self, order: Order) -> None:
        pending = await asyncio.to_thread(self.client.pending_authorizations, order)
        self.providers: dict[int, DnsProvider] = {}
        presented: list[Presented] = []
        keepers: list[asyncio.Task[None]] = []
        try:
            # Solver Pods start a few at a time: a node starts them at its own pace, and a hundred
            # started at once all become Ready late, so none finishes early (a bulk run's first Ready).
            async with self.context.pod_starts:
                for authorization in pending:
                    item = await self._create(authorization)
                    presented.append(item)
                    if item.pod is not None:
                        keepers.append(asyncio.create_task(self._keep_solver_pod(item.pod)))
                    if item.record is not None:
                        await self._add_record(item)
                pods = [item for item in presented if item.record is None]
                await asyncio.gather(*(self._solver_ready(item) for item in pods))
            await asyncio.gather(*(self._validate(item) for item in presented))
        finally:
            for keeper in keepers:
                keeper.cancel()
            await asyncio.gather(*keepers, return_exceptions=True)
            for item in presented:
                await self._remove(item)

    # -- presenting --------------------------------------------------------------------------------

    async def _create(self, authorization: Authorization) -> Presented:
        """The Challenge, and for HTTP-01 its solver Pod, Service and Ingress (existing ones are kept)."""
        name = dns_name(authorization)
        solver = solver_for(self.issuer.solvers, name)
        acme = authorization.body.challenge(solver.challenge_type) if solver is not None else None
        if solver is None or acme is None:
            offered = ", ".join(c.type for c in authorization.body.challenges) or "none"
            raise IssuanceFailed(
                Reason.NO_SOLVER,
                f"no solver for {name} answers a challenge the CA offers ({offered})",
                order_spent=True,
            )
        index = self.issuer.solvers.index(solver)
        provider = record = None
        if solver.dns01 is not None:
            provider, record = await self._locate(index, solver, name, self.client.dns01_value(acme))
        manifest = builders.build_challenge(
            self.certificate,
            dns_name=name,
            token=acme.token,
            url=acme.url,
            authorization_url=authorization.url,
            issuer=self.spec.issuer_ref,
            solver=solver,
            solver_index=index,
            record=None if record is None else _record_spec(record, solver),
        )
        challenge = await self.context.kube.create(manifest)
        item = Presented(authorization, acme, solver, challenge, provider, record)
        self._track(item, "pending")
        if provider is None:
            key_authorization = self.client.key_authorization(acme)
            image = self.context.settings.solver_image
            route = builders.build_solver_httproute if solver.parent_refs else builders.build_solver_ingress
            item.pod = builders.build_solver_pod(challenge, solver, image=image, key_authorization=key_authorization)
            for manifest in (item.pod, builders.build_solver_service(challenge, solver), route(challenge, solver)):
                await self.context.kube.create(manifest)
        return item

    async def _keep_solver_pod(self, pod: dict[str, Any]) -> None:
        """Until the challenge is over, make the solver Pod again when it goes: deleted by a person or an
        eviction, or still terminating from a replica that stopped mid-issuance (its name is taken
        until it is gone, so the create above found it there)."""
        name = pod["metadata"]["name"]
        while True:
            await self.context.pods.wait_going(self.namespace, name)
            log.info("%s/%s: solver Pod %s is going; making it again", self.namespace, self.name, name)
            await self.context.pods.wait_deleted(self.namespace, name)
            while True:
                try:
                    await self.context.kube.create(pod)
                    break
                except ApiError as error:  # a quota, a policy: said, and tried again
                    log.warning("%s/%s: solver Pod %s not made again: %s", self.namespace, self.name, name, error)
                    await asyncio.sleep(KEEPER_RETRY)

    async def _locate(self, index: int, solver: Solver, name: str, value: str) -> tuple[DnsProvider, Record]:
        """The solver's provider, and where the record goes: ``_acme-challenge.<name>`` (or where a
        CNAME there points) in the zone the provider finds for it. Lookups only: nothing is written."""
        assert solver.dns01 is not None
        try:
            provider = self.providers.get(index)
            if provider is None:
                namespace = secret_namespace(
                    self.spec.issuer_ref.kind, self.namespace, self.context.settings.cluster_resource_namespace
                )
                provider = await provider_for(
                    self.context.kube,
                    solver.dns01,
                    namespace=namespace,
                    nameservers=self.context.settings.selfcheck_nameservers,
                )
                self.providers[index] = provider
            fqdn = zones.challenge_fqdn(name)
            if solver.dns01.follow_cname:
                fqdn = await zones.follow_cnames(fqdn, self._lookup_nameservers(provider, solver))
            zone = await provider.find_zone(fqdn)
        except DnsError as error:
            raise dns_failure(name, error) from error
        return provider, Record(fqdn=fqdn, zone=zone, value=value)

    async def _add_record(self, item: Presented) -> None:
        assert item.provider is not None
        assert item.record is not None
        try:
            await item.provider.present(item.record)
        except DnsError as error:
            await self._challenge_state(item, "errored", f"{error.reason}: {error}")
            raise dns_failure(dns_name(item.authorization), error) from error
        item.record_added = True
        await self._challenge_state(
            item, "presented", f"TXT record added at {item.record.fqdn} in zone {item.record.zone}", presented=True
        )

    def _lookup_nameservers(self, provider: DnsProvider, solver: Solver) -> tuple[str, ...]:
        """Where names are looked up: the operator's nameservers, or for ``selfCheck.nameservers:
        Solver`` (split horizon) the provider's own."""
        own = provider.own_nameservers()
        if solver.self_check.nameservers == "Solver" and own:
            return own
        return self.context.settings.selfcheck_nameservers

    # -- checking and accepting --------------------------------------------------------------------

    async def _validate(self, item: Presented) -> None:
        """Wait until the challenge can pass, accept, and poll until the authorization is final."""
        check = item.solver.self_check
        if item.record is None:
            await self._solver_ready(item)
        if item.acme.status == "pending":
            if check.mode == "Wait":
                await asyncio.sleep(check.wait_seconds)
                if item.solver.parent_refs:
                    await self._route_accepted(item)
            elif item.record is None:
                await self._self_check(item, check.timeout_seconds)
            else:
                await self._propagated(item, check.timeout_seconds)
            await asyncio.to_thread(self.client.answer, item.acme)
            await self._challenge_state(item, "processing", "the CA is validating")
        await self._poll(item)

    async def _solver_ready(self, item: Presented) -> None:
        pod = builders.solver_name(item.name)
        if await self.context.pods.wait_ready(self.namespace, pod, POD_READY_TIMEOUT):
            return
        await self._challenge_state(item, "errored", f"solver Pod {pod} was not Ready within {POD_READY_TIMEOUT:.0f} s")
        raise IssuanceFailed(
            Reason.SELF_CHECK_FAILED,
            f"solver Pod {self.namespace}/{pod} for {dns_name(item.authorization)} did not become Ready; "
            "see kubectl describe pod",
        )

    async def _self_check(self, item: Presented, timeout: float) -> None:
        name, token = dns_name(item.authorization), item.acme.token
        key_authorization = self.client.key_authorization(item.acme)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = 0.1
        nameservers = self.context.settings.selfcheck_nameservers
        settled = not item.solver.parent_refs  # a Gateway's acceptance is read until one has answered
        while True:
            if not settled:
                settled = await self._route_accepted(item)
            result = await asyncio.to_thread(check_http01, name, token, key_authorization, nameservers=nameservers)
            if result.ok:
                return
            if loop.time() + delay > deadline:
                message = (
                    f"self-check of http://{name}/.well-known/acme-challenge/{token} failed for {timeout:.0f} s at the "
                    f"{result.hop} hop: {result.detail}. The CA was not asked to validate, so no failed "
                    "validation counts against your rate limits; fix the route and the issuance retries."
                )
                await self._challenge_state(item, "errored", f"{result.hop}: {result.detail}")
                raise IssuanceFailed(Reason.SELF_CHECK_FAILED, message)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def _route_accepted(self, item: Presented) -> bool:
        """Whether a parent accepted the solver's HTTPRoute; IssuanceFailed when none can take it: its
        Gateways are missing, or every one refused it, or its backend is not resolved — with the
        parent's own reason. Parents that have not written status yet are waited for (the self-check
        may pass meanwhile)."""
        kube, route_name = self.context.kube, builders.solver_name(item.name)
        route = await kube.get_gateway_object("httproutes", self.namespace, route_name) or {}
        parents = (route.get("status") or {}).get("parents") or []
        verdicts: list[routes.Verdict | None] = []
        for ref in item.solver.parent_refs:
            namespace = ref.namespace or self.namespace
            status = next(
                (p for p in parents if routes.same_parent(p.get("parentRef") or {}, ref, self.namespace)), None
            )
            if status is None and await kube.get_gateway_object("gateways", namespace, ref.name) is None:
                verdicts.append(routes.missing_gateway(ref, namespace))
            else:
                verdicts.append(routes.verdict(status, ref, namespace, route_name))
        refused = [v for v in verdicts if v is not None and not v.accepted]
        if refused and (
            len(refused) == len(verdicts) or any(v.reason == Reason.HTTP_ROUTE_REFS_UNRESOLVED for v in refused)
        ):
            first = refused[0]
            await self._challenge_state(item, "errored", first.message)
            raise IssuanceFailed(
                first.reason or Reason.HTTP_ROUTE_NOT_ACCEPTED,
                f"{first.message}. The CA was not asked to validate, so no failed validation counts against your "
                "rate limits; fix the Gateway or the solver's parentRefs and the issuance retries.",
            )
        return any(v is not None and v.accepted for v in verdicts)

    async def _propagated(self, item: Presented, timeout: float) -> None:
        """Ask each nameserver that will answer the CA until all serve the value (no sleep when they
        do at once); DNSPropagationTimedOut naming the first that does not after ``timeout``."""
        assert item.provider is not None
        assert item.record is not None
        record, name = item.record, dns_name(item.authorization)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = 0.1
        try:
            servers = await self._servers(item.provider, record.zone, item.solver)
            while True:
                missing = [
                    found
                    for found in await asyncio.gather(
                        *(propagation.serves(s, record.fqdn, record.value) for s in servers)
                    )
                    if found is not None
                ]
                if not missing:
                    return
                if loop.time() + delay > deadline:
                    hint = (
                        ""
                        if "CNAME" in missing[0]
                        else "; check that the zone's nameservers receive the update (zone transfers to "
                        "secondaries), or raise selfCheck.timeoutSeconds"
                    )
                    raise DnsError(
                        PROPAGATION_TIMED_OUT,
                        f"after {timeout:.0f} s, {missing[0]}. The CA was not asked to validate (no failed validation "
                        f"counts against your limits){hint}",
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        except DnsError as error:
            await self._challenge_state(item, "errored", f"{error.reason}: {error}")
            raise dns_failure(name, error) from error

    async def _servers(self, provider: DnsProvider, zone: str, solver: Solver) -> list[propagation.Server]:
        own = provider.own_nameservers()
        if solver.self_check.nameservers == "Solver" and own:
            return await propagation.configured(own)
        return await propagation.authoritative(zone, self._lookup_nameservers(provider, solver))

    async def _poll(self, item: Presented) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + AUTHORIZATION_TIMEOUT
        delay = 0.05
        url = item.authorization.url
        while True:
            authorization, retry_after = await asyncio.to_thread(self.client.read_authorization, url)
            status = authorization.body.status
            if status == "valid":
                return
            if status != "pending":
                problem = authorization.body.failure()
                await self._challenge_state(item, "invalid", str(problem or status))
                raise IssuanceFailed(
                    Reason.AUTHORIZATION_FAILED,
                    f"authorization for {dns_name(item.authorization)} is {status}: {problem or 'no reason given'}. "
                    f"{_invalid_hint(item)}",
                    order_spent=True,
                )
            if loop.time() > deadline:
                raise IssuanceFailed(
                    Reason.AUTHORIZATION_FAILED,
                    f"authorization {url} still pending after {AUTHORIZATION_TIMEOUT:.0f} s",
                )
            await asyncio.sleep(min(delay, retry_after if retry_after else delay))
            delay = min(delay * 2, 5.0)

    # -- tidying up --------------------------------------------------------------------------------

    async def _remove(self, item: Presented) -> None:
        """Remove the record (then let the Challenge go) or the solver objects with the Challenge.
        A record that cannot be removed now keeps its Challenge (deleted, held by the finalizer)
        for ``dnsrecords`` to retry."""
        kube, namespace = self.context.kube, self.namespace
        self.context.challenges.pop(f"{namespace}/{item.name}", None)
        if item.record is None:
            route = "HTTPRoute" if item.solver.parent_refs else "Ingress"
            await kube.delete_challenge(namespace, item.name, solver_kinds=(route, "Service", "Pod"))
            return
        if item.record_added:
            assert item.provider is not None
            try:
                await item.provider.clean_up(item.record)
            except DnsError as error:
                message = f"could not remove TXT record {item.record.fqdn} of Challenge {item.name}: {error}; retrying"
                log.warning("%s/%s: %s", namespace, self.name, message)
                await kube.event(
                    self.certificate, "Warning", str(Reason.DNS_RECORD_LEFT), message, self.context.clock()
                )
                await kube.delete_challenge(namespace, item.name, solver_kinds=())
                return
        others = [f for f in item.challenge["metadata"].get("finalizers") or [] if f != api.FINALIZER_DNS_RECORD]
        await kube.release_challenge(namespace, item.name, others)
        await kube.delete_challenge(namespace, item.name, solver_kinds=())

    async def _challenge_state(
        self, item: Presented, state: str, reason: str, *, presented: bool | None = None
    ) -> None:
        now = timestamp(self.context.clock())
        self._track(item, state)
        status: dict[str, Any] = {"state": state, "reason": reason, "checkedAt": now}
        if presented is not None:
            status["presented"] = presented
        await self.context.kube.patch_challenge_status(self.namespace, item.name, status)

    def _track(self, item: Presented, state: str) -> None:
        """The Challenge's state as the metrics show it, until ``_remove``."""
        self.context.challenges[f"{self.namespace}/{item.name}"] = ChallengeState(
            self.name, dns_name(item.authorization), item.solver.challenge_type, state
        )


def _record_spec(record: Record, solver: Solver) -> dict[str, str]:
    assert solver.dns01 is not None
    return {"fqdn": record.fqdn, "zone": record.zone, "value": record.value, "provider": solver.dns01.provider}


def dns_failure(name: str, error: DnsError) -> IssuanceFailed:
    """A DNS step's failure as the issuance's: its reason, the name, and that the order is kept."""
    try:
        reason = Reason(error.reason)
    except ValueError:  # a plug-in's own word: shown in the message
        reason = Reason.DNS_PROVIDER_FAILED
    prefix = "" if reason == error.reason else f"{error.reason}: "
    return IssuanceFailed(reason, f"DNS-01 for {name}: {prefix}{error}")


def _invalid_hint(item: Presented) -> str:
    name = dns_name(item.authorization)
    if item.record is not None:
        return (
            f"The CA did not find this challenge's value in TXT {item.record.fqdn}: check that the CA's resolvers "
            "reach the zone's public nameservers, and that no other record or CNAME at that name is in the way"
        )
    return (
        f"The CA could not fetch http://{name}/.well-known/acme-challenge/…: check that {name} resolves to your "
        "ingress and that port 80 is reachable from the internet"
    )
