"""The scheduler wakes each key once, earliest first, and a later wake never delays an earlier one."""

from __future__ import annotations

import asyncio
import datetime

from certwright.kube.scheduler import Scheduler


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def test_keys_wake_in_time_order_once() -> None:
    async def scenario() -> list[str]:
        woken: list[str] = []
        done = asyncio.Event()

        def wake(key: str) -> None:
            woken.append(key)
            if len(woken) == 3:
                done.set()

        scheduler = Scheduler(wake, _now)
        task = asyncio.get_running_loop().create_task(scheduler.run())
        start = _now()
        scheduler.schedule("late", start + datetime.timedelta(milliseconds=150))
        scheduler.schedule("early", start + datetime.timedelta(milliseconds=30))
        scheduler.schedule("middle", start + datetime.timedelta(milliseconds=90))
        scheduler.schedule("middle", start + datetime.timedelta(milliseconds=120))  # later: the earlier one stays
        await asyncio.wait_for(done.wait(), 5)
        await asyncio.sleep(0.2)
        task.cancel()
        return woken

    assert asyncio.run(scenario()) == ["early", "middle", "late"]


def test_an_earlier_wake_replaces_a_later_one_and_cancel_drops_it() -> None:
    async def scenario() -> list[str]:
        woken: list[str] = []
        scheduler = Scheduler(woken.append, _now)
        task = asyncio.get_running_loop().create_task(scheduler.run())
        start = _now()
        scheduler.schedule("renew", start + datetime.timedelta(days=30))
        scheduler.schedule("renew", start + datetime.timedelta(milliseconds=20))
        scheduler.schedule("dropped", start + datetime.timedelta(milliseconds=20))
        scheduler.cancel("dropped")
        await asyncio.sleep(0.3)
        task.cancel()
        return woken

    assert asyncio.run(scenario()) == ["renew"]
