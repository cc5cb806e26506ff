"""The label watch: one watch-list request for the initial state, pages where the server refuses it,
and what vanished while a stream was lost reported as deleted."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from certwright.kube.store import CompactBodies
from certwright.kube.watch import LabelWatch


def secret(name: str, version: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": version, "managedFields": [{"x": 1}]},
        "data": {"tls.crt": "Y2VydA=="},
    }


def event(kind: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": kind, "object": obj}).encode() + b"\n"


def end_of_initial(version: str) -> bytes:
    marker = {"resourceVersion": version, "annotations": {"k8s.io/initial-events-end": "true"}}
    return event("BOOKMARK", {"metadata": marker})


class Response:
    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines
        self.released = False

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.lines)

    def release_conn(self) -> None:
        self.released = True


class FakeRest:
    """Answers the watch's requests from scripts: ``streams`` for watches, ``pages`` for LISTs; after the
    scripts, a watch blocks until the test ends (as a quiet stream does)."""

    def __init__(self, streams: list[list[bytes] | Exception], pages: list[dict[str, Any]] | None = None) -> None:
        self.streams = streams
        self.pages = pages or []
        self.asked: list[dict[str, Any]] = []
        self.done = threading.Event()

    def stream(self, url_path: str, *, query: dict[str, Any], timeout: float | None = None) -> Response:
        self.asked.append({"path": url_path, **query})
        if not self.streams:
            self.done.set()
            threading.Event().wait()  # a quiet watch: this thread waits for ever (it is a daemon)
        script = self.streams.pop(0)
        if isinstance(script, Exception):
            raise script
        return Response(script)

    def request(self, method: str, url_path: str, *, query: dict[str, Any], timeout: float | None = None) -> Any:
        self.asked.append({"method": method, "path": url_path, **query})
        return self.pages.pop(0)


def run_watch(rest: FakeRest, keep: CompactBodies) -> list[tuple[str, str]]:
    """Start a watch on ``rest``, let it run its scripts, and return the (kind, key) it reported."""
    seen: list[tuple[str, str]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def handler(kind: str, obj: dict[str, Any]) -> None:
            key = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
            seen.append((kind, key))
            if kind == "DELETED":
                keep.pop(key)
            else:
                keep.put(key, obj)

        watch = LabelWatch("secrets", rest, "/api/v1/secrets", "a=b", loop, handler, known=keep.keys)  # type: ignore[arg-type]
        watch.start()
        await loop.run_in_executor(None, rest.done.wait, 10)
        await asyncio.sleep(0.05)  # the last call_soon_threadsafe callbacks run
        assert watch.synced.is_set()

    asyncio.run(main())
    return seen


def test_the_initial_state_is_one_watch_list_request_and_the_stream_goes_on() -> None:
    rest = FakeRest(
        [
            [
                event("ADDED", secret("a", "5")),
                event("ADDED", secret("b", "6")),
                end_of_initial("7"),
                event("MODIFIED", secret("a", "8")),
            ]
        ]
    )
    keep = CompactBodies()

    seen = run_watch(rest, keep)

    assert seen == [("ADDED", "ns/a"), ("ADDED", "ns/b"), ("MODIFIED", "ns/a")]
    first, second = rest.asked
    assert first["sendInitialEvents"] == "true"
    assert first["resourceVersionMatch"] == "NotOlderThan"
    assert first["labelSelector"] == "a=b"
    assert "resourceVersion" not in first
    assert second["resourceVersion"] == "8", "the watch resumes where the initial events ended"
    assert "sendInitialEvents" not in second
    assert "managedFields" not in (keep.get("ns/a") or {})["metadata"]


def test_a_server_that_refuses_a_watch_list_is_listed_in_pages() -> None:
    refused = client.ApiException(status=400, reason="Bad Request")
    pages = [
        {"metadata": {"resourceVersion": "9", "continue": "next"}, "items": [secret("a", "5")]},
        {"metadata": {"resourceVersion": "9", "continue": ""}, "items": [secret("b", "6")]},
    ]
    rest = FakeRest([refused, [event("DELETED", secret("a", "10"))]], pages)
    keep = CompactBodies()

    seen = run_watch(rest, keep)

    assert seen == [("ADDED", "ns/a"), ("ADDED", "ns/b"), ("DELETED", "ns/a")]
    assert [ask.get("continue") for ask in rest.asked if ask.get("method") == "GET"] == [None, "next"]
    assert all(ask["limit"] == 500 for ask in rest.asked if ask.get("method") == "GET")
    assert rest.asked[-2]["resourceVersion"] == "9", "the watch starts where the list ended"
    assert keep.keys() == ["ns/b"]


def test_after_a_lost_stream_what_vanished_meanwhile_is_deleted() -> None:
    rest = FakeRest(
        [
            [event("ADDED", secret("a", "5")), event("ADDED", secret("b", "6")), end_of_initial("7")],
            RuntimeError("410 Gone"),  # the resumed watch fails: the state is fetched again
            [event("ADDED", secret("b", "6")), end_of_initial("12")],
        ]
    )
    keep = CompactBodies()

    seen = run_watch(rest, keep)

    assert seen[-2:] == [("ADDED", "ns/b"), ("DELETED", "ns/a")]
    assert keep.keys() == ["ns/b"]


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_refusal_for_want_of_rights_is_not_mistaken_for_an_old_server(status: int) -> None:
    denied = client.ApiException(status=status, reason="Forbidden")
    rest = FakeRest([denied, [end_of_initial("3")]])

    run_watch(rest, CompactBodies())

    assert [ask.get("sendInitialEvents") for ask in rest.asked[:2]] == ["true", "true"], "retried as a watch-list"
