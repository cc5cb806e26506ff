"""Bodies kept compact: what goes in comes out (without managedFields), and a read is a copy."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from certwright.kube.context import KeyedRunner
from certwright.kube.store import CompactBodies


def test_a_body_comes_back_whole_without_managed_fields_and_as_a_copy() -> None:
    bodies = CompactBodies()
    body = {"metadata": {"name": "web", "managedFields": [{"manager": "kubectl"}]}, "spec": {"dnsNames": ["a.test"]}}

    bodies.put("ns/web", body)
    read = bodies.get("ns/web")
    assert read == {"metadata": {"name": "web"}, "spec": {"dnsNames": ["a.test"]}}
    assert body["metadata"]["managedFields"], "the caller's dict is left as it was"

    read["spec"]["dnsNames"].append("b.test")
    assert bodies["ns/web"]["spec"]["dnsNames"] == ["a.test"], "changing a read changes nothing kept"
    assert bodies.get("ns/other") is None
    assert bodies.get("ns/other", {"x": 1}) == {"x": 1}
    assert dict(bodies.items()) == {"ns/web": {"metadata": {"name": "web"}, "spec": {"dnsNames": ["a.test"]}}}
    assert bodies.pop("ns/web") is not None
    assert len(bodies) == 0
    assert "ns/web" not in bodies


def test_a_certificate_and_its_secret_cost_a_few_kilobytes() -> None:
    bodies = CompactBodies()
    certificate = {
        "metadata": {"name": "web", "namespace": "shop", "uid": "0" * 36, "resourceVersion": "123456"},
        "spec": {"secretName": "web-tls", "dnsNames": ["web.shop.example"], "issuerRef": {"name": "le"}},
        "status": {"conditions": [{"type": "Ready", "status": "True", "message": "up to date " * 5}]},
    }
    for n in range(100):
        bodies.put(f"shop/web-{n}", certificate)
    assert bodies.size() / 100 < 600


def test_the_runner_says_when_a_burst_is_over() -> None:
    bursts: list[int] = []
    runner = KeyedRunner(lambda: bursts.append(1))
    runner.BURST = 3

    async def main() -> None:
        async def work() -> None:
            await asyncio.sleep(0)

        for n in range(5):
            runner.trigger(f"k{n}", work)
        while runner.running:
            await asyncio.sleep(0.01)
        runner.trigger("one-more", work)
        while runner.running:
            await asyncio.sleep(0.01)

    asyncio.run(main())
    assert bursts == [1], "once after the burst of five; a single pass later is no burst"


def test_a_paused_runner_keeps_keys_until_it_resumes() -> None:
    ran: list[str] = []
    runner = KeyedRunner()
    runner.paused = True

    async def main() -> None:
        def work(key: str) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                ran.append(key)

            return run

        runner.trigger("a", work("a"))
        runner.trigger("b", work("b"))
        runner.trigger("a", work("a"))
        await asyncio.sleep(0.01)
        assert ran == [], "a standby acts on nothing"
        runner.resume()
        while runner.running:
            await asyncio.sleep(0.01)

    asyncio.run(main())
    assert ran == ["a", "b"], "each key once, in the order it came"


def test_a_stopping_runner_lets_short_passes_end_cancels_long_ones_and_starts_nothing_more() -> None:
    ended: list[str] = []
    cancelled: list[str] = []
    runner = KeyedRunner(limit=2)

    async def main() -> None:
        def work(key: str, seconds: float) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                try:
                    await asyncio.sleep(seconds)
                except asyncio.CancelledError:
                    cancelled.append(key)
                    raise
                ended.append(key)

            return run

        runner.trigger("short", work("short", 0.01))
        runner.trigger("long", work("long", 60))
        runner.trigger("waiting", work("waiting", 0))
        await runner.stop(grace=0.2)
        runner.trigger("late", work("late", 0))
        await asyncio.sleep(0.01)

    asyncio.run(main())
    assert ended == ["short"], "the waiting key did not start when the short pass ended"
    assert cancelled == ["long"]
    assert not runner.running


def test_a_failed_pass_runs_again_after_a_back_off_that_grows_and_resets_on_success() -> None:
    runner = KeyedRunner()
    runner.RETRY_FIRST = 0.01
    outcomes = [OSError("connection refused"), RuntimeError("a bug"), None, None]
    ran: list[float] = []

    async def main() -> None:
        async def work() -> None:
            ran.append(asyncio.get_running_loop().time())
            outcome = outcomes.pop(0)
            if outcome is not None:
                raise outcome

        runner.trigger("k", work)
        while outcomes[:1] != [None] or runner.running:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.1)

    asyncio.run(main())
    assert len(ran) == 3, "failed twice, retried each time, then done: no retry after a success"
    assert ran[1] - ran[0] >= 0.01, "not before the back-off"
    assert ran[2] - ran[1] >= 0.02, "which doubles"
    assert runner.failures == {}
