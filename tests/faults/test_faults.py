"""Fault injection under a steady load of registrations through the HTTP API.

Each test starts a stack of its own, registers a fixed population of mentors, starts the load,
injects one fault during it, and then waits for the system to catch up: every registration
has exactly one effect in each service, no mentor is above capacity, and all of that within
60 s of the fault's end. Each test adds a row to the table printed at the end of the run.
``FAULTS_SCALE=full`` gives the full-scale run (``make test-faults``).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from devstack.load import LoadDriver
from devstack.stack import Stack
from mentorship_shared.contracts.topics import TOPIC_PARTITIONS

from tests.faults.checks import Inspector, Recovery, population_known, wait_until_caught_up
from tests.faults.conftest import SCALE, kill_when_ready
from tests.faults.topics import (
    POISON_KINDS,
    TOPICS,
    Poison,
    committed,
    end_offsets,
    labelled_malformed,
    poison_messages,
    publish,
    replay,
)

pytestmark = [pytest.mark.faults, pytest.mark.timeout(SCALE.timeout)]

#: Average mentor capacity (capacities are drawn from 3 to 8).
_CAPACITIES = (3, 8)


def _capacities(expected_mentees: float, rng: random.Random) -> list[int]:
    """Mentors for about 90% of the mentees the load is expected to send: the last ones find
    every slot taken, so capacity is contended for, and most mentees get a proposal."""
    wanted = max(10, math.ceil(0.9 * expected_mentees))
    capacities: list[int] = []
    while sum(capacities) < wanted:
        capacities.append(rng.randint(*_CAPACITIES))
    return capacities


async def _finish_load(driver: LoadDriver, seconds: float) -> None:
    await asyncio.sleep(seconds)
    await driver.stop()


async def run_under_load(
    stack: Stack,
    http: httpx.AsyncClient,
    fault_table: Callable[[str, Any], None],
    *,
    fault: str,
    inject: Callable[[], Awaitable[float | None]],
    expected_fault_seconds: float,
    tail: float | None = None,
) -> tuple[Recovery, LoadDriver]:
    """Mentors first, then the load; ``inject`` runs ``SCALE.lead`` seconds into it and may
    return when its fault ended (default: when it returns). Adds the table row and asserts
    the invariants."""
    rng = random.Random(fault)
    driver = LoadDriver(http, stack.url("profile"), run=uuid.uuid4().hex[:8])
    tail = SCALE.tail if tail is None else tail
    expected = SCALE.rate * (SCALE.lead + expected_fault_seconds + tail)
    await driver.register_mentors(_capacities(expected, rng))
    inspector = Inspector(stack, driver)
    await population_known(inspector)
    load: asyncio.Task[None] | None = None
    try:
        driver.start(SCALE.rate)
        await asyncio.sleep(SCALE.lead)
        ended = await inject()
        fault_ended = time.monotonic() if ended is None else ended
        load = asyncio.create_task(_finish_load(driver, tail))
        recovery = await wait_until_caught_up(
            inspector, fault_ended=fault_ended, load=load, bound=SCALE.recovery_bound
        )
    finally:
        if load is None or not load.done():
            await driver.cancel()
            if load is not None:
                load.cancel()
    fault_table(fault, recovery)
    findings = recovery.findings
    report = f"{fault}:\n{findings.describe()}\nlogs: {stack.log_dir}"
    assert recovery.caught_up, (
        f"not caught up within {SCALE.recovery_bound:.0f} s of the fault's end\n{report}\n"
        f"{stack.log_tail(20)}"
    )
    assert recovery.seconds is not None, report
    assert findings.sound, f"{report}\n{stack.log_tail(20)}"
    return recovery, driver


async def test_sigkill_of_every_service_at_random_moments(
    fault_stack: Stack,
    http: httpx.AsyncClient,
    fault_table: Callable[[str, Any], None],
) -> None:
    stack = fault_stack
    kills = SCALE.kills_per_service
    rng = random.Random(2024)
    killed_at: list[float] = []

    async def kill_repeatedly(name: str) -> None:
        for _ in range(kills):
            await stack.until_ready(names=[name])
            await asyncio.sleep(rng.uniform(0.3, 2.5))
            killed_at.append(await kill_when_ready(stack, name))

    async def inject() -> float:
        # The three services are killed independently, so their outages overlap at times.
        await asyncio.gather(*(kill_repeatedly(name) for name in [p.name for p in stack.processes]))
        return max(killed_at)

    await run_under_load(
        stack,
        http,
        fault_table,
        fault=f"SIGKILL each service x{kills}",
        inject=inject,
        # A service is back and ready about 5 to 10 s after its kill on a busy 2-core machine.
        expected_fault_seconds=kills * 11.0,
    )
    assert len(killed_at) == 3 * kills


async def test_broker_stopped_and_started_again(
    fault_stack: Stack,
    http: httpx.AsyncClient,
    fault_table: Callable[[str, Any], None],
) -> None:
    stack = fault_stack
    outage = SCALE.broker_outage

    async def inject() -> None:
        await stack.in_control(stack.stop_broker)
        await asyncio.sleep(outage)
        await stack.in_control(stack.start_broker)

    await run_under_load(
        stack,
        http,
        fault_table,
        fault=f"broker down {outage:.0f} s (restarts empty)",
        inject=inject,
        expected_fault_seconds=outage,
    )


async def test_postgres_restarted(
    fault_stack: Stack,
    http: httpx.AsyncClient,
    fault_table: Callable[[str, Any], None],
) -> None:
    stack = fault_stack

    async def inject() -> None:
        await stack.in_control(stack.restart_postgres)

    await run_under_load(
        stack,
        http,
        fault_table,
        fault="PostgreSQL restarted",
        inject=inject,
        expected_fault_seconds=3,
    )


async def _dead_letters(stack: Stack, service: str) -> dict[str, int]:
    conn = await asyncpg.connect(stack.database_url(service), timeout=10)
    try:
        inbox = await conn.fetch(
            "SELECT consumer, count(*) AS n FROM processed_events "
            "WHERE outcome = 'dead_lettered' GROUP BY consumer"
        )
        outbox = await conn.fetch(
            "SELECT topic, count(*) AS n FROM outbox WHERE topic LIKE '%.dlq' GROUP BY topic"
        )
    finally:
        await conn.close()
    found = {f"{service}.{row['consumer']}": row["n"] for row in inbox}
    found.update({f"{service} -> {row['topic']}": row["n"] for row in outbox})
    return found


def _expected_dead_letters(poison: list[Poison]) -> dict[str, int]:
    """Each consumer of a topic dead-letters each poison message of it exactly once, through
    its outbox to ``<topic>.dlq``; nobody consumes notification.events."""
    expected: dict[str, int] = {}
    for topic, (_, groups) in TOPICS.items():
        count = len([m for m in poison if m.topic == topic])
        for group in groups:
            service, consumer = group.split(".", 1)
            expected[f"{service}.{consumer}"] = count
            key = f"{service} -> {topic}.dlq"
            expected[key] = expected.get(key, 0) + count
    return expected


async def test_poison_messages_on_every_topic(
    fault_stack: Stack,
    http: httpx.AsyncClient,
    fault_table: Callable[[str, Any], None],
) -> None:
    stack = fault_stack
    poison = [
        message for topic in TOPICS for message in poison_messages(topic, TOPIC_PARTITIONS[topic])
    ]

    async def inject() -> None:
        # Spread over the steady phase: one kind at a time, on every partition of every topic.
        for kind in POISON_KINDS:
            await publish(stack.bootstrap_servers, [m for m in poison if m.kind == kind])
            await asyncio.sleep(SCALE.steady / len(POISON_KINDS))

    await run_under_load(
        stack,
        http,
        fault_table,
        fault=f"poison on every partition ({len(poison)} msgs)",
        inject=inject,
        expected_fault_seconds=SCALE.steady,
    )
    found = {**await _dead_letters(stack, "matching"), **await _dead_letters(stack, "notification")}
    assert found == _expected_dead_letters(poison)


async def test_malformed_json_labelled_as_json_is_dead_lettered(
    fault_stack: Stack,
    http: httpx.AsyncClient,
    fault_table: Callable[[str, Any], None],
) -> None:
    """Labelled ``content-type: application/json`` like the services' own events. FastStream's
    decoder would json-decode such a body before the consumer sees it and drop the record when
    it is not JSON; the consumer reads the raw bytes itself, so the record is dead-lettered."""
    stack = fault_stack
    poison = [
        message
        for topic in TOPICS
        for message in labelled_malformed(topic, TOPIC_PARTITIONS[topic])
    ]

    async def inject() -> None:
        await publish(stack.bootstrap_servers, poison)

    await run_under_load(
        stack,
        http,
        fault_table,
        fault=f"malformed JSON labelled JSON ({len(poison)} msgs)",
        inject=inject,
        expected_fault_seconds=0,
    )
    found = {**await _dead_letters(stack, "matching"), **await _dead_letters(stack, "notification")}
    assert found == _expected_dead_letters(poison)


async def test_topics_replayed_from_the_start(
    fault_stack: Stack,
    http: httpx.AsyncClient,
    fault_table: Callable[[str, Any], None],
) -> None:
    stack = fault_stack
    replayed: dict[str, int] = {}
    ends: dict[str, dict[int, int]] = {}

    async def inject() -> None:
        await asyncio.sleep(SCALE.steady / 2)
        for topic, (_, groups) in TOPICS.items():
            if groups:
                replayed[topic] = await replay(stack.bootstrap_servers, topic)
                ends[topic] = await end_offsets(stack.bootstrap_servers, topic)

    await run_under_load(
        stack,
        http,
        fault_table,
        fault="profile + match topics replayed",
        inject=inject,
        expected_fault_seconds=SCALE.steady / 2,
    )
    assert all(replayed.values()), replayed
    # Every consumer group went through the replayed records (and everything after them).
    for topic, (_, groups) in TOPICS.items():
        for group in groups:
            offsets = await committed(stack.bootstrap_servers, group, topic)
            behind = {
                p: (offsets.get(p), end)
                for p, end in ends[topic].items()
                if offsets.get(p, -1) < end
            }
            assert not behind, f"{group} has not consumed the replay of {topic}: {behind}"


async def test_four_matcher_instances_at_once(
    fault_stack_factory: Callable[..., Awaitable[Stack]],
    http: httpx.AsyncClient,
    fault_table: Callable[[str, Any], None],
) -> None:
    stack = await fault_stack_factory(matchers=4)

    async def inject() -> None:
        # The fault is the set-up itself: four matchers share the profile topic's partitions
        # and the database for the whole load.
        await asyncio.sleep(SCALE.steady)

    await run_under_load(
        stack,
        http,
        fault_table,
        fault="four matcher instances",
        inject=inject,
        expected_fault_seconds=SCALE.steady,
        tail=0.0,
    )
