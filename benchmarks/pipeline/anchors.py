"""The machine's own anchors for the pipeline benchmark, measured with the pipeline's tools.

* Kafka: an aiokafka producer and consumer on the same broker, one message at a time (the
  round trip from `send` to the consumer holding it) and then a burst (messages a second).
* PostgreSQL: an asyncpg transaction writing one row plus one outbox row through the shared
  plumbing (`Outbox.add_raw`, the outbox table and its wake-up trigger from the plumbing
  migrations), one at a time and from several connections at once.
* SMTP: the notification service's own mailer and mail writer sending to a dev SMTP sink
  process, one mail at a time and then from several connections at once.
* HTTP: a FastAPI hello-world served by the services' entry point, driven by the same
  open-loop load generator at rising rates (see `benchmarks.pipeline.open_loop` for the step loop).

Each anchor also reports the CPU its busiest phase took per unit (a message, a transaction, a
mail) in every process involved, the load generator's share included: added up as one
registration needs them, they are the least CPU the pipeline could spend on a registration with
these tools, whatever it did on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from mentorship_shared.plumbing.broker import ensure_topics
from mentorship_shared.plumbing.database import (
    Connection,
    apply_migrations,
    connect_pool,
    plumbing_migrations,
)
from mentorship_shared.plumbing.outbox import Outbox
from notification_service.mailer import SmtpMailer
from notification_service.message import MailComposer

#: CPU seconds used so far, by process role ("postgres", "broker", "sink", "load generator"...).
CpuProbe = Callable[[], dict[str, float]]


def cpu_ms_per_unit(
    before: dict[str, float], after: dict[str, float], roles: Sequence[str], units: int
) -> dict[str, float]:
    """CPU milliseconds a unit of work, per role in ``roles``, between two probe readings."""
    return {role: (after[role] - before[role]) / units * 1000 for role in roles}


def percentile(values: Sequence[float], share: float) -> float:
    """The ``share`` quantile (0..1) by the nearest-rank method; nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": percentile(seconds, 0.50) * 1000,
        "p95_ms": percentile(seconds, 0.95) * 1000,
        "p99_ms": percentile(seconds, 0.99) * 1000,
    }


#: One unit of an anchor's work (a transaction, a mail), given its number.
Unit = Callable[[int], Awaitable[None]]


async def one_then_many(
    lane: Callable[[], contextlib.AbstractAsyncContextManager[Unit]],
    *,
    sequential: int,
    concurrent: int,
    connections: int,
    cpu: CpuProbe,
    roles: Sequence[str],
) -> dict[str, Any]:
    """Time ``sequential`` units one at a time in one lane, then ``concurrent`` units from
    ``connections`` lanes at once; the concurrent phase's CPU a unit is counted per role in
    ``roles`` (``cpu_ms_per_unit``). A lane is what one connection does: its context opens
    and closes what the units share."""
    latencies: list[float] = []
    async with lane() as unit:
        for number in range(sequential):
            started = time.perf_counter()
            await unit(number)
            latencies.append(time.perf_counter() - started)

    numbers = iter(range(sequential, sequential + concurrent))

    async def worker() -> None:
        async with lane() as unit:
            for number in numbers:
                await unit(number)

    cpu_before = cpu()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return {
        "sequential": sequential,
        **summary_ms(latencies),
        "sequential_per_second": sequential / sum(latencies) if latencies else math.nan,
        "concurrent": concurrent,
        "connections": connections,
        "concurrent_per_second": concurrent / elapsed,
        "cpu_ms_per_unit": cpu_ms_per_unit(cpu_before, cpu(), roles, concurrent),
    }


# --- Kafka -------------------------------------------------------------------------------------


async def kafka_anchor(
    bootstrap_servers: str, *, round_trips: int, burst: int, cpu: CpuProbe
) -> dict[str, Any]:
    """Round trips one at a time, then a burst: produce ``burst`` messages, consume them all.
    The burst's CPU a message is counted in the broker and in this process (both clients)."""
    topic = f"bench-anchor-{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap_servers, {topic: 1})
    partition = TopicPartition(topic, 0)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=None, enable_auto_commit=False
    )
    await producer.start()
    try:
        await consumer.start()
        try:
            consumer.assign([partition])
            await consumer.seek_to_end(partition)
            await consumer.position(partition)
            trips: list[float] = []
            # The first few fetch metadata and open connections: not timed.
            for number in range(-5, round_trips):
                payload = json.dumps({"n": number, "kind": "round-trip"}).encode()
                started = time.perf_counter()
                await producer.send_and_wait(topic, payload, key=b"anchor")
                message = await consumer.getone()
                if number >= 0:
                    trips.append(time.perf_counter() - started)
                assert message.value == payload, "the consumer read another message"
            body = b"x" * 600  # about the size of a MenteeRegistered envelope
            cpu_before = cpu()
            started = time.perf_counter()
            sends = [await producer.send(topic, body, key=b"anchor") for _ in range(burst)]
            await asyncio.gather(*sends)
            produced = time.perf_counter() - started
            received = 0
            while received < burst:
                batches = await consumer.getmany(timeout_ms=1000)
                received += sum(len(messages) for messages in batches.values())
            consumed = time.perf_counter() - started
            burst_cpu = cpu_ms_per_unit(cpu_before, cpu(), ("broker", "load generator"), burst)
        finally:
            await consumer.stop()
    finally:
        await producer.stop()
    return {
        "round_trips": round_trips,
        **summary_ms(trips),
        "burst": burst,
        "produce_per_second": burst / produced,
        "through_per_second": burst / consumed,
        "cpu_ms_per_message": burst_cpu,
    }


# --- PostgreSQL --------------------------------------------------------------------------------


async def _outbox_transaction(conn: Connection, outbox: Outbox, number: int) -> None:
    row_id = uuid.uuid4()
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO anchor_rows (id, body) VALUES ($1, $2)",
            row_id,
            json.dumps({"n": number, "name": f"Engineer {number}"}),
        )
        await outbox.add_raw(
            event_id=uuid.uuid4(),
            topic="anchor.events",
            key=str(row_id),
            event_type="AnchorWritten",
            value=b"x" * 600,
            headers={"content-type": "application/json"},
        )


async def postgres_anchor(
    url: str, *, sequential: int, concurrent: int, connections: int, cpu: CpuProbe
) -> dict[str, Any]:
    """One row plus one outbox row per transaction: one at a time, then ``connections`` at once.
    The concurrent phase's CPU a transaction is counted in PostgreSQL and in this process."""
    # The services' own pool set-up (its connection init registers the JSON codecs).
    pool = await connect_pool(url, min_size=connections, max_size=connections)

    @contextlib.asynccontextmanager
    async def lane() -> AsyncIterator[Unit]:
        async with pool.acquire() as conn:
            outbox = Outbox(conn, producer="anchor")
            yield lambda number: _outbox_transaction(conn, outbox, number)

    try:
        await apply_migrations(pool, plumbing_migrations())
        await pool.execute(
            "CREATE TABLE IF NOT EXISTS anchor_rows (id uuid PRIMARY KEY, body jsonb NOT NULL)"
        )
        figures = await one_then_many(
            lane,
            sequential=sequential,
            concurrent=concurrent,
            connections=connections,
            cpu=cpu,
            roles=("postgres", "load generator"),
        )
    finally:
        with contextlib.suppress(Exception):
            await pool.close()
    figures["cpu_ms_per_transaction"] = figures.pop("cpu_ms_per_unit")
    return figures


# --- SMTP --------------------------------------------------------------------------------------

# About as long as a proposal mail's text.
_ANCHOR_BODY = (
    "Hello Engineer,\n\n"
    + "A product manager could be your mentor: this line stands for the proposal's text.\n" * 10
)


async def smtp_anchor(
    host: str, port: int, *, sequential: int, concurrent: int, connections: int, cpu: CpuProbe
) -> dict[str, Any]:
    """Mails written and sent the way the notification service does it (`MailComposer`,
    `SmtpMailer` with kept-open connections): one at a time, then ``connections`` at once.
    The concurrent phase's CPU a mail is counted in the sink and in this process."""
    mailer = SmtpMailer(host, port, max_idle_connections=connections)
    composer = MailComposer("Mentorship Matching <matches@mentorship.invalid>")

    async def send(number: int) -> None:
        await mailer.send(
            composer.compose(
                to_name=f"Engineer {number}",
                to_address=f"engineer-{number}@example.org",
                subject="A product manager could be your mentor",
                message_id=f"<anchor-{number}@mentorship.invalid>",
                notification_id=str(uuid.uuid4()),
                body=_ANCHOR_BODY,
            )
        )

    @contextlib.asynccontextmanager
    async def lane() -> AsyncIterator[Unit]:
        yield send  # the mailer keeps its connections open between sends

    try:
        for number in range(-5, 0):  # opens the first connection: not timed
            await send(number)
        figures = await one_then_many(
            lane,
            sequential=sequential,
            concurrent=concurrent,
            connections=connections,
            cpu=cpu,
            roles=("sink", "load generator"),
        )
    finally:
        await mailer.close()
    figures["cpu_ms_per_mail"] = figures.pop("cpu_ms_per_unit")
    return figures
