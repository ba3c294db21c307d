"""PollingWorker stops when asked, whatever the loop was doing at that moment.

Regression: with `asyncio.wait_for` around the wake-up, a stop that arrived in the same loop
iteration as a wake-up (a NOTIFY from the last commit) was swallowed by Python 3.11's wait_for,
the worker went on polling, and the service's shutdown waited for it forever.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from mentorship_shared.plumbing.worker import PollingWorker, cancel_and_wait


class _Listener:
    """Just enough of a pooled connection for the worker's LISTEN."""

    def is_closed(self) -> bool:
        return False

    async def add_listener(self, *_: Any) -> None:
        return None

    async def remove_listener(self, *_: Any) -> None:
        return None


class _Pool:
    def __init__(self) -> None:
        self.released = 0

    async def acquire(self) -> _Listener:
        return _Listener()

    async def release(self, _: _Listener) -> None:
        self.released += 1


class _IdleWorker(PollingWorker):
    """Finds nothing to do, so it always goes back to waiting for a wake-up."""

    def __init__(self, *, poll_interval: float) -> None:
        super().__init__(name="idle-worker", channel="idle", poll_interval=poll_interval)
        self.runs = 0
        self.ran = asyncio.Event()
        self.closed = False

    async def run_once(self) -> bool:
        self.runs += 1
        self.ran.set()
        return False

    async def close(self) -> None:
        self.closed = True


async def _started(poll_interval: float) -> tuple[_IdleWorker, _Pool]:
    worker, pool = _IdleWorker(poll_interval=poll_interval), _Pool()
    await worker.start(pool)  # type: ignore[arg-type]  # the fake covers what the loop uses
    await worker.ran.wait()
    worker.ran.clear()
    return worker, pool


async def _stop_ends_the_loop(worker: _IdleWorker) -> None:
    """Stop the worker and check that its loop ended; never hangs the suite."""
    stopping = asyncio.create_task(worker.stop())
    # A deadline that leaves `stop` alone (it would swallow a cancellation of its caller
    # before the fix too), so that a hang shows as a failure.
    done, _ = await asyncio.wait([stopping], timeout=10)
    loops = [t for t in asyncio.all_tasks() if t.get_name() == "idle-worker" and not t.done()]
    for task in [*loops, stopping]:
        task.cancel()  # leave nothing running for the next test
    assert done, "stop() did not return: the loop swallowed its cancellation"
    assert not loops, "the worker's loop still runs after stop()"
    stopping.result()


@pytest.mark.parametrize("iterations_between", range(6))
async def test_a_stop_right_after_a_wake_up_ends_the_loop(iterations_between: int) -> None:
    # Every spacing of wake-up and stop, in loop iterations, that the race could take.
    worker, pool = await _started(poll_interval=30.0)
    runs_before = worker.runs
    worker.wake()
    for _ in range(iterations_between):
        await asyncio.sleep(0)
    await _stop_ends_the_loop(worker)

    assert not worker.running
    assert worker.closed
    assert pool.released == 1  # the LISTEN connection went back to the pool
    assert worker.runs <= runs_before + 1  # at most the run the wake-up asked for


async def test_stops_that_land_near_a_poll_timeout_end_the_loop() -> None:
    for spacing in range(20):
        worker, _ = await _started(poll_interval=0.001)
        for _ in range(spacing):
            await asyncio.sleep(0)
        await _stop_ends_the_loop(worker)


async def test_a_wake_up_runs_the_worker_again_without_waiting_for_the_poll() -> None:
    worker, _ = await _started(poll_interval=30.0)
    worker.wake()
    async with asyncio.timeout(10):
        await worker.ran.wait()
    await _stop_ends_the_loop(worker)
    assert worker.runs == 2


class _SwallowingWorker(_IdleWorker):
    """Its run takes a while and swallows a cancellation, as careless library code can."""

    def __init__(self) -> None:
        super().__init__(poll_interval=30.0)
        self.busy = asyncio.Event()

    async def run_once(self) -> bool:
        await super().run_once()
        if self.runs > 1:
            self.busy.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(30)
        return False


async def test_a_loop_whose_work_swallows_the_cancellation_still_ends() -> None:
    worker, pool = _SwallowingWorker(), _Pool()
    await worker.start(pool)  # type: ignore[arg-type]
    worker.wake()
    async with asyncio.timeout(10):
        await worker.busy.wait()
    await _stop_ends_the_loop(worker)
    assert worker.runs == 2  # no run after the stop


async def test_cancel_and_wait_lets_a_cancellation_of_its_caller_through() -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        # Ignores its first cancellation, as some library code does.
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await release.wait()

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    caller = asyncio.create_task(cancel_and_wait(task))
    await asyncio.sleep(0)
    caller.cancel()
    done, _ = await asyncio.wait([caller], timeout=10)
    release.set()
    await task
    assert done, "the cancelled caller was kept waiting for the task"
    assert caller.cancelled()


async def test_cancel_and_wait_raises_what_the_task_failed_with() -> None:
    async def failing() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            raise RuntimeError("broke while stopping") from None

    task = asyncio.create_task(failing())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="broke while stopping"):
        await cancel_and_wait(task)
