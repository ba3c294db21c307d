"""Background loops that drain a table: woken by NOTIFY, polling as a fallback, backing off.

The outbox relay and the mail dispatcher both work this way: a trigger NOTIFYs a channel when
rows commit, the loop wakes and drains in batches, and when nothing notifies it (a missed
notification, rows that became due with time) it still polls every `poll_interval` seconds.

A loop whose work fails waits `retry.backoff_delay(...)` before the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
import asyncpg.pool
from aiokafka.errors import KafkaError

from .database import TRANSIENT_DB_ERRORS
from .retry import backoff_delay

log = logging.getLogger(__name__)

#: Failures of the loop's dependencies that are retried with backoff rather than reported as bugs.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (KafkaError, *TRANSIENT_DB_ERRORS)


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel `task` and return once it has ended, raising what it failed with, if anything
    but the cancellation.

    Awaiting the task under `suppress(CancelledError)` would also swallow a cancellation of
    the caller (a shutdown's own deadline), which must go on propagating.
    """
    task.cancel()
    await asyncio.wait([task])
    if not task.cancelled():
        task.result()


class PollingWorker:
    """Subclasses implement `run_once`; this class owns the loop, wake-ups and backoff."""

    def __init__(self, *, name: str, channel: str, poll_interval: float) -> None:
        self.name = name
        self._channel = channel
        self._poll_interval = poll_interval
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._listener: asyncpg.pool.PoolConnectionProxy | None = None
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError(f"{self.name} has not started")
        return self._pool

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        # The flag (and the wake-up, so no poll is waited out) ends the loop even if code the
        # loop awaits swallows the cancellation.
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        await self._close_listener()
        await self.close()

    def wake(self) -> None:
        """Ask for a run now (NOTIFY does this across processes)."""
        self._wake.set()

    async def run_once(self) -> bool:
        """Do one batch of work; return True if more may be waiting right now."""
        raise NotImplementedError

    async def reset(self) -> None:
        """Drop connections that may be broken after a failure (rebuilt on the next run)."""

    async def close(self) -> None:
        """Release what the worker holds, at stop."""

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                await self._ensure_listening()
                more = await self.run_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except TRANSIENT_ERRORS as error:
                failures += 1
                delay = backoff_delay(failures, base=0.4, cap=30.0)
                log.warning("%s: %r; retrying in %.1f s", self.name, error, delay)
                await self._close_listener()
                await self.reset()
                await asyncio.sleep(delay)
                continue
            except Exception:
                delay = backoff_delay(1, base=5.0, cap=5.0)
                log.exception("%s failed unexpectedly; retrying in %.1f s", self.name, delay)
                await self.reset()
                await asyncio.sleep(delay)
                continue
            if not more:
                # asyncio.timeout, not wait_for: Python 3.11's wait_for drops a cancellation
                # that arrives in the same loop iteration as the wake-up (a NOTIFY from the
                # last commit before a shutdown), and the loop would never stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_interval):
                        await self._wake.wait()
                self._wake.clear()

    async def _ensure_listening(self) -> None:
        await self.held_connection()

    async def held_connection(self) -> asyncpg.pool.PoolConnectionProxy:
        """The worker's own connection, taken from the pool once and kept: it LISTENs there,
        and work that runs one statement or transaction at a time can run there too, without
        a pool checkout and its session reset each time. A failure drops it (`_run`); the next
        call takes another."""
        if self._listener is None or self._listener.is_closed():
            listener = await self.pool.acquire()
            try:
                await listener.add_listener(self._channel, self._on_notify)
            except BaseException:
                await self.pool.release(listener)
                raise
            self._listener = listener
        return self._listener

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _close_listener(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                await listener.remove_listener(self._channel, self._on_notify)
            with contextlib.suppress(Exception):
                await self.pool.release(listener)
