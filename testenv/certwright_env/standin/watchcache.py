"""A list-then-watch cache of one resource, kept as plain dicts, the way an informer keeps one."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Listener = Callable[[str, Obj], None]


class WatchCache:
    """Mirror of the objects a list function returns, updated from its watch stream.

    ``list_call`` is a kubernetes-client list method (such as ``CoreV1Api.list_pod_for_all_namespaces``);
    it is called with ``_preload_content=False`` so that objects stay as the API server sent them.
    Listeners are called, on the watch thread, with the event type and the object.
    """

    def __init__(self, name: str, list_call: Callable[..., Any], label_selector: str | None = None) -> None:
        self.name = name
        self._list_call = list_call
        self._selector = label_selector
        self._items: dict[str, Obj] = {}
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self.synced = threading.Event()

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def items(self) -> list[Obj]:
        with self._lock:
            return list(self._items.values())

    def by_key(self) -> dict[str, Obj]:
        with self._lock:
            return dict(self._items)

    def get(self, key: str) -> Obj | None:
        with self._lock:
            return self._items.get(key)

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"watch-{self.name}", daemon=True).start()

    def _kwargs(self) -> dict[str, Any]:
        return {"label_selector": self._selector} if self._selector else {}

    def _run(self) -> None:
        while True:
            try:
                version = self._relist()
                while True:
                    version = self._watch(version)
            except _Expired:
                continue
            except Exception:
                log.exception("watch of %s failed; listing again in 1 s", self.name)
                time.sleep(1)

    def _relist(self) -> str:
        response = self._list_call(_preload_content=False, **self._kwargs())
        body = json.loads(response.data)
        fresh = {_key(obj): obj for obj in body.get("items") or []}
        with self._lock:
            gone = [obj for key, obj in self._items.items() if key not in fresh]
            self._items = fresh
        for obj in gone:
            self._notify("DELETED", obj)
        for obj in fresh.values():
            self._notify("ADDED", obj)
        self.synced.set()
        version: str = body["metadata"]["resourceVersion"]
        return version

    def _watch(self, version: str) -> str:
        response = self._list_call(
            watch=True,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=300,
            _preload_content=False,
            **self._kwargs(),
        )
        try:
            for line in response:
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, obj = event["type"], event["object"]
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        raise _Expired
                    raise RuntimeError(f"watch error: {obj.get('message')}")
                version = obj["metadata"]["resourceVersion"]
                if kind == "BOOKMARK":
                    continue
                with self._lock:
                    if kind == "DELETED":
                        self._items.pop(_key(obj), None)
                    else:
                        self._items[_key(obj)] = obj
                self._notify(kind, obj)
        finally:
            response.release_conn()
        return version

    def _notify(self, kind: str, obj: Obj) -> None:
        for listener in self._listeners:
            try:
                listener(kind, obj)
            except Exception:
                log.exception("listener of %s failed on %s", self.name, _key(obj))


class _Expired(Exception):
    """The watch's resourceVersion is too old (410 Gone): list again."""


def _key(obj: Obj) -> str:
    meta = obj["metadata"]
    namespace = meta.get("namespace")
    return f"{namespace}/{meta['name']}" if namespace else str(meta["name"])
