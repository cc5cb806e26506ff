"""A list-then-watch of one resource by server-side label selector, run in a thread.

Events reach the event loop through ``call_soon_threadsafe``; the watch never blocks it. Used for the
operator's own Secrets and its solver Pods only — never all Secrets or Pods of a cluster.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Handler = Callable[[str, Obj], None]


def object_key(obj: Obj) -> str:
    meta = obj["metadata"]
    return f"{meta.get('namespace')}/{meta['name']}"


class LabelWatch:
    """Streams ``list_call`` (a kubernetes-client list-for-all-namespaces method) filtered by ``selector``."""

    def __init__(
        self, name: str, list_call: Callable[..., Any], selector: str, loop: asyncio.AbstractEventLoop, handler: Handler
    ) -> None:
        self.name = name
        self.list_call = list_call
        self.selector = selector
        self.loop = loop
        self.handler = handler
        self.synced = asyncio.Event()

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"watch-{self.name}", daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                raw: Any = self.list_call(label_selector=self.selector, _preload_content=False)
                listing = json.loads(raw.data)
                for obj in listing.get("items") or []:
                    self._emit("ADDED", obj)
                self.loop.call_soon_threadsafe(self.synced.set)
                version = listing["metadata"]["resourceVersion"]
                while True:
                    version = self._watch(version)
            except Exception:
                log.warning("watch of %s failed; listing again in 1 s", self.name, exc_info=True)
                time.sleep(1)

    def _watch(self, version: str) -> str:
        response: Any = self.list_call(
            label_selector=self.selector,
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
                    self._emit(event["type"], event["object"])
        finally:
            response.release_conn()
        return version

    def _emit(self, kind: str, obj: Obj) -> None:
        obj.get("metadata", {}).pop("managedFields", None)
        self.loop.call_soon_threadsafe(self.handler, kind, obj)
