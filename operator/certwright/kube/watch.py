"""A stream of one resource (all of it, or what a server-side label selector picks), run in a thread.

The initial state comes as a watch-list (``sendInitialEvents``, Kubernetes 1.34+; beta and on since
1.32): one request whose objects arrive one by one, so that 10,000 Secrets never sit in memory as one
list and a restart costs one request, not a LIST and a WATCH. A server that refuses it (older, or
the feature switched off) gets a LIST in pages of 500 and then a WATCH. After a stream is lost for
good (410 Gone, an error), the state is fetched again, and what the handler keeps but the server no
longer has is reported as deleted.

Events reach the event loop through ``call_soon_threadsafe``; the watch never blocks it, and it stops
reading while ``PENDING`` events wait there (a start-up with 10,000 objects never queues them all as
parsed bodies). Used for certwright's own resources, and for Secrets and Pods only with the label
certwright puts on its own — never all Secrets or Pods of a cluster.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import urllib3

from .rest import Rest

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Handler = Callable[[str, Obj], None]
INITIAL_EVENTS_END = "k8s.io/initial-events-end"
PAGE = 500
TIMEOUT = 300
PENDING = 500  # events handed to the loop and not handled yet
MAX_PAUSE = 30  # seconds between attempts while a watch keeps failing (a CRD not installed yet, RBAC)


def object_key(obj: Obj) -> str:
    meta = obj["metadata"]
    return f"{meta.get('namespace')}/{meta['name']}"


class Refused(Exception):
    """The server does not take a watch-list request (4xx): list and watch instead."""


class LabelWatch:
    """Streams the collection at ``url_path`` (all namespaces, or one), filtered by ``selector`` unless
    it is empty; ``handler`` is called on the loop with each event's type and object."""

    def __init__(
        self,
        name: str,
        rest: Rest,
        url_path: str,
        selector: str,
        loop: asyncio.AbstractEventLoop,
        handler: Handler,
        known: Callable[[], Iterable[str]] = tuple,
    ) -> None:
        self.name = name
        self.rest = rest
        self.url_path = url_path
        self.selector = selector
        self.loop = loop
        self.handler = handler
        self.known = known  # the keys the handler keeps (called in this thread: it must return a copy)
        self.synced = asyncio.Event()
        self.streaming = True  # until the server refuses a watch-list
        self.pending = threading.BoundedSemaphore(PENDING)

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"watch-{self.name}", daemon=True).start()

    def _run(self) -> None:
        fetched_before = False
        failures = 0
        while True:
            try:
                version = self._initial(again=fetched_before)
                fetched_before = True
                failures = 0
                while True:
                    version = self._watch(version)
            except Exception as error:
                failures += 1
                pause = min(2 ** (failures - 1), MAX_PAUSE)
                status = getattr(error, "status", None)
                if isinstance(status, int):  # the API server's answer: its words are the cause
                    reason = getattr(error, "reason", "")
                    log.warning(
                        "watch of %s failed: %s %s; fetching it again in %d s", self.name, status, reason, pause
                    )
                elif isinstance(error, (urllib3.exceptions.HTTPError, OSError)):  # no answer: expected, not a bug
                    cause = getattr(error, "reason", None) or error
                    log.warning(
                        "watch of %s: the API server cannot be reached (%s); fetching it again in %d s",
                        self.name,
                        cause,
                        pause,
                    )
                else:
                    log.warning("watch of %s failed; fetching it again in %d s", self.name, pause, exc_info=True)
                time.sleep(pause)

    def _initial(self, *, again: bool) -> str:
        """The current state, emitted as ADDED (and, on a re-fetch, DELETED for what is gone); returns
        the resource version to watch from."""
        seen: set[str] = set()
        if self.streaming:
            try:
                return self._stream_initial(seen, again)
            except Refused as error:
                log.info("watch-list of %s refused (%s); listing in pages instead", self.name, error)
                self.streaming = False
        version = self._list_pages(seen)
        self._initial_done(seen, again)
        return version

    def _stream_initial(self, seen: set[str], again: bool) -> str:
        try:
            response: Any = self.rest.stream(
                self.url_path,
                query=self._query(
                    watch="true",
                    sendInitialEvents="true",
                    resourceVersionMatch="NotOlderThan",
                    allowWatchBookmarks="true",
                    timeoutSeconds=TIMEOUT,
                ),
                timeout=TIMEOUT + 30,
            )
        except Exception as error:
            status = getattr(error, "status", None)
            if status in (400, 422):  # a parameter it does not know (older) or does not allow (feature off)
                raise Refused(f"{status} {getattr(error, 'reason', '')}".strip()) from error
            raise
        initial = True
        version = ""
        try:
            for event in _events(response):
                obj = event["object"]
                version = obj["metadata"]["resourceVersion"]
                if event["type"] == "BOOKMARK":
                    if initial and (obj["metadata"].get("annotations") or {}).get(INITIAL_EVENTS_END) == "true":
                        initial = False
                        self._initial_done(seen, again)
                    continue
                if initial:
                    seen.add(object_key(obj))
                self._emit(event["type"], obj)
        finally:
            response.release_conn()
        if initial:
            raise RuntimeError("the watch-list ended before its initial events did")
        return version

    def _list_pages(self, seen: set[str]) -> str:
        """LIST in pages of ``PAGE``, each emitted and dropped before the next; returns the list's version."""
        token = None
        while True:
            page = self.rest.request(
                "GET", self.url_path, query=self._query(limit=PAGE, **{"continue": token}), timeout=60
            )
            for item in page.get("items") or []:
                seen.add(object_key(item))
                self._emit("ADDED", item)
            token = page["metadata"].get("continue")
            if not token:
                version: str = page["metadata"]["resourceVersion"]
                return version

    def _initial_done(self, seen: set[str], again: bool) -> None:
        """After a re-fetch, what the handler keeps but the server no longer has is deleted."""
        if again:
            for key in set(self.known()) - seen:
                namespace, _, name = key.partition("/")
                self._emit("DELETED", {"metadata": {"namespace": namespace, "name": name}})
        self.loop.call_soon_threadsafe(self.synced.set)

    def _watch(self, version: str) -> str:
        query = self._query(watch="true", resourceVersion=version, allowWatchBookmarks="true", timeoutSeconds=TIMEOUT)
        response: Any = self.rest.stream(self.url_path, query=query, timeout=TIMEOUT + 30)
        try:
            for event in _events(response):
                version = event["object"]["metadata"]["resourceVersion"]
                if event["type"] != "BOOKMARK":
                    self._emit(event["type"], event["object"])
        finally:
            response.release_conn()
        return version

    def _emit(self, kind: str, obj: Obj) -> None:
        obj.get("metadata", {}).pop("managedFields", None)
        self.pending.acquire()
        self.loop.call_soon_threadsafe(self._handle, kind, obj)

    def _handle(self, kind: str, obj: Obj) -> None:
        try:
            self.handler(kind, obj)
        except Exception:
            log.exception("handling a %s event of %s failed", kind, self.name)
        finally:
            self.pending.release()

    def _query(self, **params: Any) -> dict[str, Any]:
        """``params`` with the label selector, when there is one."""
        return {"labelSelector": self.selector, **params} if self.selector else params


def _events(response: Any) -> Iterator[Obj]:
    for line in response:
        if not line.strip():
            continue
        event: Obj = json.loads(line)
        if event["type"] == "ERROR":
            raise RuntimeError(f"watch error: {event['object'].get('message')}")
        yield event
