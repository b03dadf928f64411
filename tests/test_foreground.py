"""Requests first (bot.foreground): background work waits while requests are answered."""

from __future__ import annotations

import asyncio

from bot.foreground import Foreground

GAP = 0.03
HOLD = 0.3


async def _waiter(foreground: Foreground) -> asyncio.Task[float]:
    """A task waiting for quiet that returns when it got it (loop time)."""

    async def wait() -> float:
        await foreground.quiet()
        return asyncio.get_running_loop().time()

    task = asyncio.ensure_future(wait())
    await asyncio.sleep(0)  # it is waiting now
    return task


async def test_nothing_in_flight_is_quiet_at_once() -> None:
    foreground = Foreground(hold=HOLD, gap=GAP)
    await asyncio.wait_for(foreground.quiet(), 0.01)
    assert foreground.in_flight == 0


async def test_background_waits_until_gap_after_the_last_answer() -> None:
    foreground = Foreground(hold=HOLD, gap=GAP)
    loop = asyncio.get_running_loop()
    with foreground.answering():
        waiting = await _waiter(foreground)
        with foreground.answering():
            assert foreground.in_flight == 2
        await asyncio.sleep(GAP * 2)
        assert not waiting.done()  # one is still being answered
        answered = loop.time()
    assert foreground.in_flight == 0
    await asyncio.sleep(0)
    assert not waiting.done()  # the next request of the burst may come in the gap
    released = await asyncio.wait_for(waiting, HOLD)
    assert released - answered >= GAP * 0.9


async def test_a_request_in_the_gap_extends_the_burst() -> None:
    foreground = Foreground(hold=HOLD, gap=GAP)
    with foreground.answering():
        waiting = await _waiter(foreground)
    await asyncio.sleep(GAP / 3)
    with foreground.answering():
        await asyncio.sleep(GAP * 2)  # longer than the gap, and still in the burst
        assert not waiting.done()
    await asyncio.wait_for(waiting, HOLD)


async def test_a_request_that_never_ends_holds_background_work_at_most_hold() -> None:
    foreground = Foreground(hold=HOLD, gap=GAP)
    loop = asyncio.get_running_loop()
    with foreground.answering():
        began = loop.time()
        waiting = await _waiter(foreground)
        released = await asyncio.wait_for(waiting, HOLD * 3)
        assert released - began >= HOLD * 0.9
        # The burst's hold is spent: a waiter that comes now is not held by it again...
        await asyncio.wait_for(foreground.quiet(), 0.01)
        # ...but a request arriving now starts a new burst, which holds the next ones.
        with foreground.answering():
            later = await _waiter(foreground)
            await asyncio.sleep(GAP * 2)
            assert not later.done()
        await asyncio.wait_for(later, HOLD * 3)
