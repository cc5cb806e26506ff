"""Leadership on a ``coordination.k8s.io/v1`` Lease: one replica acts, the others wait warm.

The rules are client-go's. A candidate takes the Lease when it does not exist, or when the record in it
(holder, renew time) has not changed for ``lease_duration`` by the candidate's own monotonic clock —
never by comparing its clock with the holder's, so clock skew between nodes does not matter. The leader
renews every ``retry_period``; an update carries the Lease's resourceVersion, so two candidates never
both succeed.

Why two leaders never act at once: the leader renewed last at t0 (by the API server's order of
writes). A standby saw that renewal no earlier than t0, and takes over no earlier than t0 +
``lease_duration`` on its clock. The leader checks its deadline at least every ``retry_period`` (each
request times out within it), and stops acting once ``renew_deadline`` has passed since its last
successful renewal: by t0 + ``renew_deadline`` + ``retry_period``. With the defaults, 15 s, 10 s and
2 s, the old leader has stopped at least 3 s before anyone else can start (``validate`` refuses settings
without that margin).

A leader that shuts down (SIGTERM: a rolling update, ``kubectl delete pod``) first stops acting, then
``release``s the Lease by clearing its holder, so a standby takes over within ``retry_period`` instead of
waiting out ``lease_duration``.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from .rest import Rest, path

log = logging.getLogger(__name__)
Obj = dict[str, Any]


@dataclass(frozen=True)
class LeaseSettings:
    lease_duration: float = 15.0  # seconds a standby waits after the last renewal it saw
    renew_deadline: float = 10.0  # seconds a leader keeps acting without a successful renewal
    retry_period: float = 2.0  # seconds between attempts (and a request's timeout)

    def validate(self) -> None:
        """Refuse settings under which an old leader could still act when a new one starts."""
        if not 0 < self.retry_period < self.renew_deadline:
            raise ValueError("the retry period must be positive and shorter than the renew deadline")
        if self.renew_deadline + self.retry_period >= self.lease_duration:
            raise ValueError(
                "the lease duration must exceed the renew deadline plus the retry period "
                f"({self.renew_deadline:g} s + {self.retry_period:g} s >= {self.lease_duration:g} s)"
            )


def _micro_time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElection:
    """``run`` waits until this candidate leads, calls ``started``, and returns when it has lost the
    Lease (it has then stopped being allowed to act: the caller stops acting, or exits)."""

    def __init__(
        self,
        rest: Rest,
        namespace: str,
        name: str,
        identity: str,
        settings: LeaseSettings = LeaseSettings(),
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        settings.validate()
        self.rest = rest
        self.url = path("coordination.k8s.io", "v1", "leases", namespace, name)
        self.collection = path("coordination.k8s.io", "v1", "leases", namespace)
        self.namespace, self.name, self.identity = namespace, name, identity
        self.settings = settings
        self.monotonic, self.wall, self.sleep = monotonic, wall, sleep
        self.observed: tuple[Any, ...] | None = None  # (holder, renewTime) last seen
        self.observed_at = 0.0  # when it last changed, by our monotonic clock
        self.leading = False

    async def run(self, started: Callable[[], None]) -> None:
        while not await self._try():
            await self.sleep(self.settings.retry_period)
        self.leading = True
        log.info("%s leads (Lease %s/%s)", self.identity, self.namespace, self.name)
        started()
        renewed = self.monotonic()
        while True:
            await self.sleep(self.settings.retry_period)
            if await self._try():
                renewed = self.monotonic()
            elif self.monotonic() - renewed >= self.settings.renew_deadline:
                self.leading = False
                log.warning(
                    "%s lost the Lease %s/%s: no renewal for %g s; it stops acting",
                    self.identity,
                    self.namespace,
                    self.name,
                    self.settings.renew_deadline,
                )
                return

    async def release(self) -> None:
        """Give the Lease up, once this replica has stopped acting; a no-op unless it leads."""
        if not self.leading:
            return
        self.leading = False
        try:
            released = await asyncio.to_thread(self._release)
        except (client.ApiException, OSError) as error:
            log.info("Lease %s/%s not released: %s", self.namespace, self.name, getattr(error, "reason", error))
            return
        if released:
            log.info("%s released the Lease %s/%s", self.identity, self.namespace, self.name)

    def _release(self) -> bool:
        timeout = self.settings.retry_period
        lease = self.rest.request("GET", self.url, timeout=timeout)
        spec = lease.get("spec") or {}
        if spec.get("holderIdentity") != self.identity:
            return False  # already taken: nothing of ours to give up
        now = _micro_time(self.wall())
        lease["spec"] = {
            "leaseDurationSeconds": 1,
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": int(spec.get("leaseTransitions") or 0),
        }
        try:
            self.rest.request("PUT", self.url, body=lease, timeout=timeout)
        except client.ApiException as conflict:
            if conflict.status == 409:
                return False
            raise
        return True

    async def _try(self) -> bool:
        """Take or renew the Lease; False when another holds it, or on any failure."""
        try:
            return await asyncio.to_thread(self._acquire_or_renew)
        except (client.ApiException, OSError) as error:
            log.info("Lease %s/%s: %s", self.namespace, self.name, getattr(error, "reason", error))
            return False

    def _acquire_or_renew(self) -> bool:
        timeout = self.settings.retry_period
        now = _micro_time(self.wall())
        try:
            lease = self.rest.request("GET", self.url, timeout=timeout)
        except client.ApiException as error:
            if error.status != 404:
                raise
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": self._spec(now, now, 0),
            }
            try:
                self.rest.request("POST", self.collection, body=body, timeout=timeout)
            except client.ApiException as conflict:
                if conflict.status == 409:
                    return False  # another candidate created it first
                raise
            return True
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        record = (holder, spec.get("renewTime"))
        if record != self.observed:
            self.observed, self.observed_at = record, self.monotonic()
        mine = holder == self.identity
        expired = self.monotonic() - self.observed_at >= self.settings.lease_duration
        if holder and not mine and not expired:
            return False
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if mine else 1)
        acquired = spec.get("acquireTime") if mine else now
        lease["spec"] = self._spec(acquired or now, now, transitions)
        try:
            self.rest.request("PUT", self.url, body=lease, timeout=timeout)
        except client.ApiException as conflict:
            if conflict.status == 409:
                return False  # changed since we read it: someone else renewed or took it
            raise
        self.observed, self.observed_at = (self.identity, now), self.monotonic()
        return True

    def _spec(self, acquired: str, renewed: str, transitions: int) -> Obj:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": int(self.settings.lease_duration),
            "acquireTime": acquired,
            "renewTime": renewed,
            "leaseTransitions": transitions,
        }
