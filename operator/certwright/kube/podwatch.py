"""Solver Pod readiness from one watch with a server-side label selector (never all Pods).

The self-check runs the moment a solver Pod reports Ready instead of after a fixed sleep; waiting
holds no thread, only an asyncio future.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from typing import Any

from kubernetes import client

from ..domain import api

log = logging.getLogger(__name__)
SELECTOR = f"{api.LABEL_SOLVER}=http01"


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


class SolverPodWatch:
    """Which solver Pods are Ready, kept by a background watch; ``wait_ready`` awaits one."""

    def __init__(self, core: client.CoreV1Api, loop: asyncio.AbstractEventLoop) -> None:
        self.core = core
        self.loop = loop
        self.ready: set[str] = set()
        self.waiters: dict[str, list[asyncio.Future[None]]] = {}

    def start(self) -> None:
        threading.Thread(target=self._run, name="solver-pod-watch", daemon=True).start()

    async def wait_ready(self, namespace: str, name: str, timeout: float) -> bool:
        """True once the Pod is Ready; False after ``timeout`` seconds."""
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

    def _update(self, key: str, ready: bool) -> None:
        if ready:
            self.ready.add(key)
            for future in self.waiters.pop(key, []):
                if not future.done():
                    future.set_result(None)
        else:
            self.ready.discard(key)

    def _run(self) -> None:
        while True:
            try:
                raw: Any = self.core.list_pod_for_all_namespaces(label_selector=SELECTOR, _preload_content=False)
                listing = json.loads(raw.data)
                for pod in listing.get("items") or []:
                    self._publish(pod, deleted=False)
                version = listing["metadata"]["resourceVersion"]
                while True:
                    version = self._watch(version)
            except Exception:
                log.warning("solver Pod watch failed; listing again in 1 s", exc_info=True)
                time.sleep(1)

    def _watch(self, version: str) -> str:
        response: Any = self.core.list_pod_for_all_namespaces(
            label_selector=SELECTOR,
            watch=True,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=300,
            _preload_content=False,
        )
        try:
            for line in response:
                if not line.strip():
                    continue
                event = json.loads(line)
                if event["type"] == "ERROR":
                    raise RuntimeError(f"watch error: {event['object'].get('message')}")
                version = event["object"]["metadata"]["resourceVersion"]
                if event["type"] != "BOOKMARK":
                    self._publish(event["object"], deleted=event["type"] == "DELETED")
        finally:
            response.release_conn()
        return version

    def _publish(self, pod: dict[str, Any], *, deleted: bool) -> None:
        meta = pod["metadata"]
        key = f"{meta['namespace']}/{meta['name']}"
        ready = not deleted and _ready(pod) and not meta.get("deletionTimestamp")
        self.loop.call_soon_threadsafe(self._update, key, ready)
