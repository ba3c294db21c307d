"""One way to retry: exponential backoff, capped and jittered.

Every retry in the plumbing (a failing handler, a database outage in a consumer or a worker, a
transaction conflict, a server not answering yet at start-up) waits `backoff_delay(...)`, so
instances that failed together do not all come back at the same moment.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


def backoff_delay(
    failures: int,
    *,
    base: float,
    cap: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after the `failures`-th failure in a row (1, 2, ...): `base` doubled per
    failure up to `cap`, times a random factor in [0.5, 1.5)."""
    exponent = min(max(failures, 1) - 1, 30)  # 2**30 * base is past any cap
    return min(cap, base * 2.0**exponent) * (0.5 + rand())


async def until_available(
    attempt: Callable[[], Awaitable[T]],
    *,
    what: str,
    transient: tuple[type[BaseException], ...],
    timeout: float,
    hint: str,
    base: float = 0.2,
    cap: float = 5.0,
) -> T:
    """`attempt()` again and again while it fails with a `transient` error (a server that is
    still starting), until `timeout` seconds have passed; then a RuntimeError that names
    `what` and says what to check (`hint`)."""
    deadline = time.monotonic() + timeout
    failures = 0
    while True:
        try:
            return await attempt()
        except transient as error:
            failures += 1
            delay = backoff_delay(failures, base=base, cap=cap)
            if time.monotonic() + delay > deadline:
                raise RuntimeError(
                    f"{what} did not answer within {timeout:.0f} s ({error!r}); {hint}"
                ) from error
            log.info("waiting for %s (%s)", what, type(error).__name__)
            await asyncio.sleep(delay)
