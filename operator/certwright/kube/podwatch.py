"""Solver Pod readiness from one watch with a server-side label selector (never all Pods).

The self-check runs the moment a solver Pod reports Ready instead of after a fixed sleep; waiting
holds no thread, only an asyncio future. The same watch says when a solver Pod is going (deleted, or
terminating), so that a challenge in flight makes it again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..domain import api
from .rest import Rest, path
from .watch import LabelWatch, Obj, object_key

SELECTOR = f"{api.LABEL_SOLVER}=http01"


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


class SolverPodWatch:
    """Which solver Pods are Ready, kept by a background watch; ``wait_ready`` awaits one."""

    def __init__(self, rest: Rest, loop: asyncio.AbstractEventLoop, namespace: str | None = None) -> None:
        self.loop = loop
        self.ready: set[str] = set()
        self.terminating: set[str] = set()
        self.waiters: dict[str, list[asyncio.Future[None]]] = {}
        self.going_waiters: dict[str, list[asyncio.Future[None]]] = {}
        self.deleted_waiters: dict[str, list[asyncio.Future[None]]] = {}
        self.started = False
        # In one namespace when the operator watches only that one (its RBAC is a Role there).
        self.watch = LabelWatch(
            "solver-pods",
            rest,
            path("", "v1", "pods", namespace),
            SELECTOR,
            loop,
            self._update,
            known=lambda: list(self.ready | self.terminating),
        )

    def start(self) -> None:
        """Start the watch, once: at the first wait, so that a restart with no HTTP-01 challenge in
        flight (or a cluster that only uses DNS-01) asks nothing about Pods."""
        if not self.started:
            self.started = True
            self.watch.start()

    async def wait_ready(self, namespace: str, name: str, timeout: float) -> bool:
        """True once the Pod is Ready; False after ``timeout`` seconds."""
        self.start()
        key = f"{namespace}/{name}"
        if key in self.ready:
            return True
        future: asyncio.Future[None] = self.loop.create_future()
        self.waiters.setdefault(key, []).append(future)
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            waiting = self.waiters.get(key, [])
            if future in waiting:
                waiting.remove(future)

    async def wait_going(self, namespace: str, name: str) -> None:
        """Return once the Pod is deleted or terminating (at once when it is terminating now)."""
        self.start()
        key = f"{namespace}/{name}"
        if key not in self.terminating:
            await self._wait(self.going_waiters, key)

    async def wait_deleted(self, namespace: str, name: str) -> None:
        """After ``wait_going``: return once the Pod is gone for good (its name is free again)."""
        key = f"{namespace}/{name}"
        if key in self.terminating:
            await self._wait(self.deleted_waiters, key)

    async def _wait(self, waiters: dict[str, list[asyncio.Future[None]]], key: str) -> None:
        future: asyncio.Future[None] = self.loop.create_future()
        waiters.setdefault(key, []).append(future)
        try:
            await future
        finally:
            waiting = waiters.get(key, [])
            if future in waiting:
                waiting.remove(future)

    def _update(self, kind: str, pod: Obj) -> None:
        key = object_key(pod)
        deleted = kind == "DELETED"
        going = deleted or bool(pod["metadata"].get("deletionTimestamp"))
        if not going and _ready(pod):
            self.ready.add(key)
            _resolve(self.waiters, key)
        else:
            self.ready.discard(key)
        if deleted:
            self.terminating.discard(key)
            _resolve(self.deleted_waiters, key)
        elif going:
            self.terminating.add(key)
        if going:
            _resolve(self.going_waiters, key)


def _resolve(waiters: dict[str, list[asyncio.Future[None]]], key: str) -> None:
    for future in waiters.pop(key, []):
        if not future.done():
            future.set_result(None)
