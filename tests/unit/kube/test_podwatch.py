"""Solver Pod readiness and going, as the watch reports them: a challenge waits for Ready, and learns
when its Pod is deleted or terminating so that it can make it again once the name is free."""

from __future__ import annotations

import asyncio
from typing import Any

from certwright.kube.podwatch import SolverPodWatch


def pod(*, ready: bool = False, terminating: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"namespace": "web", "name": "certwright-solver-1"}
    if terminating:
        metadata["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    conditions = [{"type": "Ready", "status": "True" if ready else "False"}]
    return {"metadata": metadata, "status": {"conditions": conditions}}


def watch(loop: asyncio.AbstractEventLoop) -> SolverPodWatch:
    pods = SolverPodWatch(None, loop)  # type: ignore[arg-type]  # the watch itself is not started here
    pods.started = True
    return pods


def test_a_pod_that_goes_and_is_made_again_is_seen_going_gone_and_ready() -> None:
    seen: list[str] = []

    async def main() -> None:
        pods = watch(asyncio.get_running_loop())
        pods._update("ADDED", pod(ready=True))
        assert await pods.wait_ready("web", "certwright-solver-1", 1)

        async def keeper() -> None:
            await pods.wait_going("web", "certwright-solver-1")
            seen.append("going")
            await pods.wait_deleted("web", "certwright-solver-1")
            seen.append("gone")

        task = asyncio.create_task(keeper())
        await asyncio.sleep(0.01)
        assert seen == [], "a Ready Pod is not going"
        pods._update("MODIFIED", pod(ready=True, terminating=True))
        await asyncio.sleep(0.01)
        assert seen == ["going"]
        assert "web/certwright-solver-1" not in pods.ready, "a terminating Pod serves nothing"
        pods._update("DELETED", pod(terminating=True))
        await task
        pods._update("ADDED", pod())
        pods._update("MODIFIED", pod(ready=True))
        assert await pods.wait_ready("web", "certwright-solver-1", 1)

    asyncio.run(main())
    assert seen == ["going", "gone"]


def test_a_pod_already_terminating_is_going_at_once() -> None:
    async def main() -> None:
        pods = watch(asyncio.get_running_loop())
        pods._update("ADDED", pod(ready=True, terminating=True))
        await asyncio.wait_for(pods.wait_going("web", "certwright-solver-1"), 1)
        assert not await pods.wait_ready("web", "certwright-solver-1", 0.05)
        pods._update("DELETED", pod(terminating=True))
        await asyncio.wait_for(pods.wait_deleted("web", "certwright-solver-1"), 1)
        assert pods.terminating == set()

    asyncio.run(main())
