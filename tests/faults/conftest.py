"""The fault-injection tier: a whole stack of its own per test (a :class:`devstack.stack.Stack`:
embedded PostgreSQL, the Tansu broker, an SMTP sink and the three services supervised as
subprocesses), so a test may kill, stop and restart any part of it.

Intensity comes from ``FAULTS_SCALE``: ``full`` (what ``make test-faults`` runs: ten kills per
service, a 30 s broker outage) or anything else for the reduced form ``make test`` runs within
CI time.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from devstack.services import named
from devstack.smtp_sink import SmtpSink
from devstack.stack import Stack

from tests.support.services import OPERATOR_KEY


@dataclass(frozen=True)
class FaultScale:
    """How hard each fault hits, and how much load runs around it."""

    name: str
    #: Registrations per second the load driver sends (open loop).
    rate: float
    #: SIGKILLs of each service in the kill test.
    kills_per_service: int
    #: Seconds the broker stays down.
    broker_outage: float
    #: Seconds of load before the fault starts and after it ends.
    lead: float
    tail: float
    #: Seconds of load for the faults that take no time of their own (poison, replay, ...).
    steady: float
    #: pytest-timeout of each test, in seconds.
    timeout: float
    #: The recovery promise: everything has caught up this long after the fault ended.
    recovery_bound: float = 60.0


REDUCED = FaultScale(
    "reduced",
    rate=10,
    kills_per_service=2,
    broker_outage=5,
    lead=3,
    tail=3,
    steady=10,
    timeout=240,
)
FULL = FaultScale(
    "full",
    # Not more: each proposal is two mails, and the mail dispatcher sends about 20 to 25 a
    # second on a 2-core machine, so at 15 registrations/s the mail backlog grows even
    # without a fault (a full run at 15/s could not catch up within 60 s of ten kills).
    rate=10,
    kills_per_service=10,
    broker_outage=30,
    lead=5,
    tail=5,
    steady=30,
    timeout=900,
)


def scale_from_env() -> FaultScale:
    return FULL if os.environ.get("FAULTS_SCALE", "").strip().lower() == "full" else REDUCED


SCALE = scale_from_env()


#: The services a fault stack runs: those a registration goes through to its mails.
SERVICES = ("profile", "matching", "notification")
#: What the fault stacks change from the services' defaults.
FAULT_SETTINGS = {
    "OUTBOX_POLL_INTERVAL_SECONDS": "0.2",
    "DISPATCHER_POLL_INTERVAL_SECONDS": "0.5",
    # A steady load from one address: the abuse limits would refuse most of it.
    "REGISTRATION_RATE_PER_ADDRESS": "0",
    "REGISTRATION_RATE_PER_EMAIL": "0",
    "MAIL_DAILY_LIMIT_PER_RECIPIENT": "0",
    "LOG_FORMAT": "text",
}


async def kill_when_ready(stack: Stack, name: str, *, ready_timeout: float = 120.0) -> float:
    """Once process ``name`` is ready, SIGKILL it (the supervisor starts it again); the moment
    of the kill. :meth:`Stack.until_ready` then waits for the new process."""
    await stack.until_ready(ready_timeout, [name])
    stack.kill(name)
    return time.monotonic()


@pytest.fixture
async def fault_stack_factory(
    tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Callable[..., Awaitable[Stack]]]:
    """``await fault_stack_factory(matchers=4)`` starts a stack; every one is stopped after
    the test, passed, failed or interrupted."""
    stacks: list[Stack] = []

    # FAULTS_LOG_DIR keeps the logs somewhere pytest does not clean up after three runs.
    keep = os.environ.get("FAULTS_LOG_DIR")
    base = Path(keep) / request.node.name if keep else tmp_path

    async def start(*, matchers: int = 1) -> Stack:
        root = base / f"stack{len(stacks)}"
        stack = Stack(
            root,
            services=named(*SERVICES),
            replicas={"matching": matchers},
            smtp=SmtpSink(maildir=root / "mail"),
            settings=FAULT_SETTINGS,
            operator_api_key=OPERATOR_KEY,
            quick_restarts=True,
        )
        stacks.append(stack)
        await stack.astart()
        return stack

    try:
        yield start
    finally:
        for stack in reversed(stacks):
            await stack.astop()


@pytest.fixture
async def fault_stack(
    fault_stack_factory: Callable[..., Awaitable[Stack]],
) -> Stack:
    """A stack with one process of each service."""
    return await fault_stack_factory()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:
        yield client


# --- the table every fault adds a row to -----------------------------------------------

_TABLE_HEADER = (
    f"{'fault':<44} {'sent':>6} {'lost':>5} {'dup. effects':>12} {'raw dup. mails':>14} "
    f"{'recovery':>9}"
)
_header_written: list[bool] = []


@pytest.fixture
def fault_table(summary: Callable[[str], None]) -> Callable[[str, Any], None]:
    """``fault_table(fault, report)`` adds the fault's row to the end-of-run summary."""

    def add(fault: str, report: Any) -> None:
        if not _header_written:
            _header_written.append(True)
            summary("")
            summary(f"Fault-injection suite (FAULTS_SCALE={SCALE.name})")
            summary(_TABLE_HEADER)
            summary("-" * len(_TABLE_HEADER))
        summary(report.row(fault))

    return add
