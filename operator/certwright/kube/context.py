"""The operator-wide dependency container (kopf's memo), built once at start-up."""

from __future__ import annotations

import asyncio
import datetime
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import urllib3

from .. import memory
from ..domain import api
from ..domain.specs import IssuerRef
from .accounts import AccountRegistry, issuer_key
from .builders import controller_uid
from .client import ApiError, Conflict, Kube, NotFound
from .metrics import ChallengeState, Metrics
from .podwatch import SolverPodWatch
from .scheduler import Scheduler
from .secrets import SecretCache
from .store import CompactBodies

log = logging.getLogger(__name__)
JUDGING = 16  # Certificates judged at once (each holds its decoded body, Secret and certificate meanwhile)
POD_STARTS = 10  # issuances whose solver Pods are being started at once


@dataclass(frozen=True)
class Settings:
    solver_image: str
    selfcheck_nameservers: tuple[str, ...]
    cluster_resource_namespace: str
    max_concurrent_issuances: int = 100
    default_issuer: IssuerRef | None = None  # for kubernetes.io/tls-acme Ingresses
    cluster_issuers: bool = True  # False when it watches namespaces only (a Role cannot grant ClusterIssuers)
    ari_restart_spread: float = 3600.0  # seconds over which a restart spreads its first ARI checks


def _secret_key(certificate: dict[str, Any]) -> str:
    return f"{certificate['metadata']['namespace']}/{(certificate.get('spec') or {}).get('secretName', '')}"


def certificate_issuer_key(certificate: dict[str, Any]) -> str:
    """The key of the issuer a Certificate names (its accounts and indexes use it)."""
    ref = (certificate.get("spec") or {}).get("issuerRef") or {}
    kind = ref.get("kind") or "Issuer"
    namespace = None if kind == "ClusterIssuer" else certificate["metadata"]["namespace"]
    return issuer_key(kind, namespace, ref.get("name", ""))


def _unindex(index: dict[str, set[str]], value: str, key: str) -> None:
    keys = index.get(value)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del index[value]


def _set_event() -> asyncio.Event:
    event = asyncio.Event()
    event.set()
    return event


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class KeyedRunner:
    """Runs at most one coroutine per key; a trigger while one runs makes it run once more after.

    Level-based reconciliation: the coroutine recomputes from the latest spec and status, so any
    number of triggers collapse into one more pass. At most ``limit`` run at once; other keys wait in
    order (a start-up with 10,000 Certificates keeps 10,000 keys waiting, not 10,000 tasks).
    ``after_burst`` is called when the runner falls idle after at least ``BURST`` passes (start-up, a
    bulk run): the moment to give memory back.

    A pass that fails runs again after a back-off (5 s doubling to 5 minutes, per key): a refusal by
    the API server or its absence (a restart, a namespace whose ServiceAccount is not there yet) is
    not the end of an issuance. Those are logged in a line; anything else with its traceback.
    """

    BURST = 500
    RETRY_FIRST = 5.0  # seconds
    RETRY_MAX = 300.0

    def __init__(self, after_burst: Callable[[], None] | None = None, limit: int = 256) -> None:
        self.running: dict[str, asyncio.Task[None]] = {}
        self.waiting: dict[str, Callable[[], Awaitable[None]]] = {}  # in trigger order
        self.again: set[str] = set()
        self.after_burst = after_burst
        self.limit = limit
        self.passes = 0
        self.paused = False  # a standby replica: keys wait until it leads
        self.failures: dict[str, int] = {}  # failed passes in a row, by key

    def trigger(self, key: str, work: Callable[[], Awaitable[None]]) -> None:
        if key in self.running:
            self.again.add(key)
            return
        if self.paused or len(self.running) >= self.limit:
            self.waiting.setdefault(key, work)
            return
        self._start(key, work)

    def resume(self) -> None:
        """Start what waited while paused (this replica now leads)."""
        self.paused = False
        while self.waiting and len(self.running) < self.limit:
            key = next(iter(self.waiting))
            self._start(key, self.waiting.pop(key))

    def _failed(self, key: str, work: Callable[[], Awaitable[None]], error: Exception) -> None:
        failures = self.failures[key] = self.failures.get(key, 0) + 1
        delay = min(self.RETRY_FIRST * 2 ** min(failures - 1, 10), self.RETRY_MAX)
        if isinstance(error, (ApiError, NotFound, Conflict, urllib3.exceptions.HTTPError, OSError)):
            cause = getattr(error, "reason", None) or error
            log.warning("reconciling %s failed: %s; trying again in %g s", key, cause, delay)
        else:
            log.exception("reconciling %s failed; trying again in %g s", key, delay)
        asyncio.get_running_loop().call_later(delay, self.trigger, key, work)

    async def stop(self, grace: float) -> None:
        """Start nothing more; give running passes ``grace`` seconds to end, then cancel the rest (what a
        cancelled pass left is resumed from status, as after a crash)."""
        self.paused = True
        running = list(self.running.values())
        if not running:
            return
        _, unfinished = await asyncio.wait(running, timeout=grace)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)

    def busy(self, key: str) -> bool:
        return key in self.running or key in self.waiting

    def _start(self, key: str, work: Callable[[], Awaitable[None]]) -> None:
        self.running[key] = asyncio.get_running_loop().create_task(self._run(key, work), name=key)

    async def _run(self, key: str, work: Callable[[], Awaitable[None]]) -> None:
        try:
            while True:
                self.again.discard(key)
                self.passes += 1
                try:
                    await work()
                except Exception as error:  # noqa: BLE001 - logged and retried in _failed
                    self._failed(key, work, error)
                    return
                self.failures.pop(key, None)
                if key not in self.again:
                    return
        finally:
            self.running.pop(key, None)
            while self.waiting and len(self.running) < self.limit and not self.paused:
                following = next(iter(self.waiting))
                self._start(following, self.waiting.pop(following))
            if not self.running and self.passes >= self.BURST:
                self.passes = 0
                if self.after_burst is not None:
                    self.after_burst()


@dataclass
class Context:
    kube: Kube
    accounts: AccountRegistry
    pods: SolverPodWatch
    settings: Settings
    clock: Callable[[], datetime.datetime] = utc_now
    random: Callable[[], float] = field(default_factory=lambda: random.SystemRandom().random)
    issuers: dict[str, dict[str, Any]] = field(default_factory=dict)  # latest body by issuer key
    certificates: CompactBodies = field(default_factory=CompactBodies)  # latest body by ns/name
    certificates_by_owner: dict[str, set[str]] = field(default_factory=dict)  # owner uid → ns/name keys
    # ns/secretName → the ns/name keys that name it (a tuple: nearly always one, and a set costs 200 bytes)
    certificates_by_secret: dict[str, tuple[str, ...]] = field(default_factory=dict)
    certificates_by_issuer: dict[str, set[str]] = field(default_factory=dict)  # issuer key → ns/name keys
    issuing: set[str] = field(default_factory=set)  # Certificates with an issuance running in this process
    swept: set[str] = field(default_factory=set)  # Certificates whose leftovers this process has looked for
    recheck_delay: dict[str, float] = field(default_factory=dict)  # seconds, for Secrets no watch covers
    ingresses: dict[str, dict[str, Any]] = field(default_factory=dict)  # annotated or not, by ns/name
    ingress_events: set[tuple[Any, ...]] = field(default_factory=set)
    runner: KeyedRunner = field(default_factory=lambda: KeyedRunner(memory.trim))
    issuer_listeners: list[Callable[[str], None]] = field(default_factory=list)
    account_lost_listeners: list[Callable[[str], None]] = field(default_factory=list)  # the issuer controller
    certificate_listeners: list[Callable[[str], None]] = field(default_factory=list)
    # Told the last body of each Certificate that is deleted (an Ingress or Gateway makes its own again).
    certificate_gone_listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)
    # Told the key of each Certificate observed (an Ingress or Gateway waiting to see one it could not create or adopt).
    certificate_seen_listeners: list[Callable[[str], None]] = field(default_factory=list)
    ingress_waiting: dict[str, str] = field(default_factory=dict)  # Certificate ns/name → Ingress ns/name
    gateways: dict[str, dict[str, Any]] = field(default_factory=dict)  # annotated or not, by ns/name
    gateway_events: set[tuple[Any, ...]] = field(default_factory=set)
    gateway_waiting: dict[str, str] = field(default_factory=dict)  # Certificate ns/name → Gateway ns/name
    secrets: SecretCache | None = None
    challenge_index: dict[str, set[str]] = field(default_factory=dict)  # Certificate ns/name → its Challenges
    # Set once issuers and Challenges have been seen in full (Certificates are judged after); set from
    # the start where there is no watch to wait for (tests).
    catalog_synced: asyncio.Event = field(default_factory=_set_event)
    streams: list[Any] = field(default_factory=list)  # the operator's own watches, started with kopf
    scheduler: Scheduler | None = None
    ari_next_fetch: dict[str, datetime.datetime] = field(default_factory=dict)  # in memory: re-fetched after a restart
    metrics: Metrics = field(default_factory=Metrics)  # counters of events; state is read at scrape time
    challenges: dict[str, ChallengeState] = field(default_factory=dict)  # ns/name → Challenges being answered

    def remember_certificate(self, key: str, body: dict[str, Any] | None) -> None:
        """Keep the latest body (None: deleted), and which owner, Secret and issuer it has, so that
        those look up their Certificates without scanning all of them."""
        previous = self.certificates.pop(key, None)
        if previous is not None:
            _unindex(self.certificates_by_owner, controller_uid(previous), key)
            _unindex(self.certificates_by_issuer, certificate_issuer_key(previous), key)
            self._unindex_secret(_secret_key(previous), key)
        if body is not None:
            self.certificates.put(key, body)
            if controller_uid(body):
                self.certificates_by_owner.setdefault(controller_uid(body), set()).add(key)
            self.certificates_by_issuer.setdefault(certificate_issuer_key(body), set()).add(key)
            claimants = self.certificates_by_secret.get(_secret_key(body), ())
            self.certificates_by_secret[_secret_key(body)] = (*claimants, key)
        if previous is not None and (body is None or _secret_key(body) != _secret_key(previous)):
            for other in self.certificates_by_secret.get(_secret_key(previous), ()):
                self.wake_certificate(other)  # the Secret they wait for may be free now

    def _unindex_secret(self, secret: str, key: str) -> None:
        rest = tuple(other for other in self.certificates_by_secret.get(secret, ()) if other != key)
        if rest:
            self.certificates_by_secret[secret] = rest
        else:
            self.certificates_by_secret.pop(secret, None)

    async def patch_certificate_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Patch a Certificate's status and keep the answer as its latest body: a reconcile that follows at
        once (woken by the Secret this process just wrote) must never judge the status from before it —
        it would resume an order already stored, with a key already deleted."""
        body = await self.kube.patch_status(api.CERTIFICATES, namespace, name, status)
        if body.get("metadata"):
            body["metadata"].pop("managedFields", None)
            self.remember_certificate(
                f"{namespace}/{name}", {**body, "kind": "Certificate", "apiVersion": api.API_VERSION}
            )

    def is_older(self, key: str, body: dict[str, Any]) -> bool:
        """Whether ``body`` is an older version than the one kept (an event queued before our own write)."""
        kept = self.certificates.get(key)
        if kept is None:
            return False
        new, old = (str((b.get("metadata") or {}).get("resourceVersion") or "") for b in (body, kept))
        return new.isdigit() and old.isdigit() and int(new) < int(old)

    def claimants(self, key: str) -> set[str]:
        """The Certificates (ns/name) that name the same Secret as ``key``, itself included."""
        body = self.certificates.get(key)
        return set(self.certificates_by_secret.get(_secret_key(body), (key,))) if body else {key}

    def account_lost(self, issuer: str) -> None:
        """The CA no longer knows the issuer's account: it is registered again from its key."""
        self.accounts.forget(issuer)
        for listener in self.account_lost_listeners:
            listener(issuer)

    def wake_certificate(self, key: str) -> None:
        """Reconcile the Certificate ``namespace/name`` (its Secret changed, or something is due)."""
        for listener in self.certificate_listeners:
            listener(key)

    issuance_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(100))
    judging: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(JUDGING))
    pod_starts: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(POD_STARTS))
