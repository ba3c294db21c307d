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
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from devstack.clock import DevClock
from devstack.load import LoadDriver
from devstack.stack import Stack
from mentorship_shared.contracts.topics import TOPIC_PARTITIONS

from tests.faults.checks import Inspector, Recovery, population_known, wait_until_caught_up
from tests.faults.conftest import SCALE, kill_when_ready
from tests.faults.journeys import JourneyDriver
from tests.faults.topics import (
    INBOX_NAMES,
    POISON_KINDS,
    TOPICS,
    Poison,
    labelled_malformed,
    poison_messages,
    publish,
    replay,
)
from tests.support.kafka import committed, end_offsets

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
    rate: float | None = None,
    driver: LoadDriver | None = None,
    journeys: JourneyDriver | None = None,
    clock: DevClock | None = None,
) -> tuple[Recovery, LoadDriver]:
    """Mentors first, then the load (``rate`` registrations a second, ``driver`` sending
    them); ``inject`` runs ``SCALE.lead`` seconds into it and may return when its fault ended
    (default: when it returns). With ``journeys``, people accept proposals and check in
    meanwhile; ``clock`` is the mentorship service's, when the test moves it. Adds the table
    row and asserts the invariants."""
    rng = random.Random(fault)
    driver = driver or LoadDriver(http, stack.url("profile"), run=uuid.uuid4().hex[:8])
    tail = SCALE.tail if tail is None else tail
    rate = SCALE.rate if rate is None else rate
    expected = rate * (SCALE.lead + expected_fault_seconds + tail)
    await driver.register_mentors(_capacities(expected, rng))
    inspector = Inspector(stack, driver, journeys=journeys, clock=clock)
    await population_known(inspector)
    load: asyncio.Task[None] | None = None
    if journeys is not None:
        journeys.start()
    try:
        driver.start(rate)
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
        if journeys is not None:
            await journeys.stop()
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
        # The services are killed independently, so their outages overlap at times.
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
    assert len(killed_at) == len(stack.processes) * kills


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


async def _all_dead_letters(stack: Stack) -> dict[str, int]:
    found: dict[str, int] = {}
    for service in ("matching", "notification", "mentorship"):
        found.update(await _dead_letters(stack, service))
    return found


def _expected_dead_letters(poison: list[Poison]) -> dict[str, int]:
    """Each consumer of a topic dead-letters each poison message of it exactly once, through
    its outbox to ``<topic>.dlq``; nobody consumes notification.events."""
    expected: dict[str, int] = {}
    for topic, (_, groups) in TOPICS.items():
        count = len([m for m in poison if m.topic == topic])
        for service in groups:
            expected[f"{service}.{INBOX_NAMES[topic]}"] = count
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
    found = await _all_dead_letters(stack)
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
    found = await _all_dead_letters(stack)
    assert found == _expected_dead_letters(poison)


async def test_topics_replayed_from_the_start(
    fault_stack: Stack,
    http: httpx.AsyncClient,
    fault_table: Callable[[str, Any], None],
) -> None:
    """People accept proposals and check in meanwhile, so every consumed topic carries events
    to replay: registrations, proposals and acceptances, mentorships started and check-ins."""
    stack = fault_stack
    replayed: dict[str, int] = {}
    ends: dict[str, dict[int, int]] = {}
    driver = LoadDriver(http, stack.url("profile"), run=uuid.uuid4().hex[:8])
    journeys = JourneyDriver(
        http, driver, matching_url=stack.url("matching"), mentorship_url=stack.url("mentorship")
    )

    async def inject() -> None:
        await asyncio.sleep(SCALE.steady / 2)
        for topic, (_, groups) in TOPICS.items():
            if groups:
                replayed[topic] = await replay(stack.bootstrap_servers, topic)
                ends[topic] = await end_offsets(stack.bootstrap_servers, topic)

    recovery, _ = await run_under_load(
        stack,
        http,
        fault_table,
        fault="profile, match, mentorship topics replayed",
        inject=inject,
        expected_fault_seconds=SCALE.steady / 2,
        rate=SCALE.journey_rate,
        driver=driver,
        journeys=journeys,
    )
    assert all(replayed.values()), replayed
    assert recovery.findings.mentorships > 0, recovery.findings.describe()
    # Every consumer group went through the replayed records (and everything after them).
    for topic, (_, groups) in TOPICS.items():
        for group in groups:
            offsets = await committed(stack.bootstrap_servers, group, topic)
            behind = {
                p: (offsets.get(p), end)
                for p, end in ends[topic].items()
                if end > 0 and offsets.get(p, -1) < end
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


async def test_mentorships_when_their_service_and_the_mail_are_killed(
    fault_stack_factory: Callable[..., Awaitable[Stack]],
    http: httpx.AsyncClient,
    fault_table: Callable[[str, Any], None],
    tmp_path: Path,
) -> None:
    """Under a load of registrations, both sides accept half of the proposals and a check-in
    is logged in half of the mentorships; meanwhile the mentorship and notification services
    are killed at random moments, and once the check-ins are in, the mentorship service's
    clock moves 13 days on: the check-in due next in every mentorship (the first, or the
    second after a logged one) reaches its reminder time, while the services keep dying.
    Every accepted match must get exactly one mentorship, every due reminder its one event
    and one mail per side, and nothing must be mailed twice."""
    clock = DevClock(tmp_path / "clock-offset")
    stack = await fault_stack_factory(clock=clock)
    kills = SCALE.kills_per_service
    rng = random.Random(2026)
    killed_at: list[float] = []
    driver = LoadDriver(http, stack.url("profile"), run=uuid.uuid4().hex[:8])
    journeys = JourneyDriver(
        http, driver, matching_url=stack.url("matching"), mentorship_url=stack.url("mentorship")
    )

    async def kill_repeatedly(name: str) -> None:
        for _ in range(kills):
            await stack.until_ready(names=[name])
            await asyncio.sleep(rng.uniform(0.3, 2.5))
            killed_at.append(await kill_when_ready(stack, name))

    async def move_the_clock() -> None:
        # Check-ins while the clock is the system's; from then on the scheduler finds every
        # mentorship's next reminder due (two days before a check-in due 14 days after the
        # start or the last check-in), and those that start later at once.
        await asyncio.sleep(SCALE.clock_moves_after)
        # A killed mentorship service takes seconds to come back on a busy machine: wait (a
        # bounded while) for a few check-ins before time moves on.
        await journeys.until_check_ins(3, timeout=60)
        await journeys.close_check_ins()
        clock.advance(timedelta(days=13))

    async def inject() -> float:
        await asyncio.gather(
            kill_repeatedly("mentorship"), kill_repeatedly("notification"), move_the_clock()
        )
        return max(killed_at)

    recovery, _ = await run_under_load(
        stack,
        http,
        fault_table,
        fault=f"mentorships: SIGKILL mentorship, mail x{kills}",
        inject=inject,
        expected_fault_seconds=kills * 11.0,
        rate=SCALE.journey_rate,
        driver=driver,
        journeys=journeys,
        clock=clock,
    )
    assert len(killed_at) == 2 * kills
    # Not vacuous: mentorships started, some with a check-in, and reminders went out.
    reminders = await _mails_of(stack, "check_in_reminder")
    findings = recovery.findings
    assert findings.mentorships > 0, findings.describe()
    assert journeys.check_ins_logged >= 3, journeys.checked_in
    assert reminders == 2 * findings.mentorships, (reminders, findings.describe())


async def _mails_of(stack: Stack, template: str) -> int:
    conn = await asyncpg.connect(stack.database_url("notification"), timeout=10)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM notifications WHERE template = $1 AND status = 'sent'", template
        )
    finally:
        await conn.close()
    return count
