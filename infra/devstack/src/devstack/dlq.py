"""``devstack dlq``: list and replay dead letters.

A consumer parks a message it can never process on ``<topic>.dlq``: the original bytes, key and
headers, plus ``dlq-reason``, ``dlq-error``, ``dlq-consumer`` and ``dlq-original-topic``,
``-partition`` and ``-offset``. ``list`` reads those topics with a throwaway consumer (no
group, nothing committed), so listing changes nothing. ``replay`` produces the original bytes
with the original key and headers back onto the original topic, without the ``dlq-*`` headers
and with ``dlq-replayed-from: <dlq topic>:<partition>:<offset>``. Replaying is safe because the
consumers are idempotent: a consumer that handled the event already finds it in its inbox, and
the one that dead-lettered it processes it once (or dead-letters it once more).

The header names and the topic suffix are the consumer's own (the shared plumbing and
contracts), not copies. The parsing and formatting below are pure functions; only
`read_dead_letters` and `replay` talk to the broker. The `devstack` command imports this module
only for its `dlq` commands, so ``devstack --help`` stays quick.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from mentorship_shared.contracts.topics import DEAD_LETTER_SUFFIX, dead_letter_topic
from mentorship_shared.plumbing.dead_letters import DEAD_LETTER_HEADERS, REPLAYED_FROM_HEADER

from devstack.errors import DevstackError

__all__ = [
    "DEAD_LETTER_HEADERS",
    "REPLAYED_FROM_HEADER",
    "DeadLetter",
    "DlqError",
    "Progress",
    "ReplayRecord",
    "dlq_topic_name",
    "format_table",
    "list_dead_letters",
    "read_dead_letters",
    "replay",
    "replay_record",
    "select",
    "shorten",
]


#: Seconds `read_dead_letters` waits for the next record of a topic not read to its end yet.
_READ_PATIENCE = 30.0


class DlqError(DevstackError):
    """A problem to report in one line (unknown topic, missing offsets, broker unreachable)."""


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic, as read."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str | None:
        for header_name, value in self.headers:
            if header_name == name:
                return value.decode(errors="replace")
        return None

    @property
    def reason(self) -> str:
        return self.header("dlq-reason") or "?"

    @property
    def error(self) -> str:
        return self.header("dlq-error") or ""

    @property
    def consumer(self) -> str:
        return self.header("dlq-consumer") or "?"

    @property
    def original_topic(self) -> str:
        """Where the message came from (the header, else this topic without `.dlq`)."""
        return self.header("dlq-original-topic") or self.topic.removesuffix(DEAD_LETTER_SUFFIX)

    @property
    def original_position(self) -> str:
        partition = self.header("dlq-original-partition") or "?"
        offset = self.header("dlq-original-offset") or "?"
        return f"{self.original_topic}[{partition}]@{offset}"

    @property
    def event(self) -> tuple[str, str] | None:
        """(event type, event id) when the value is a JSON object naming them."""
        try:
            data = json.loads(self.value)
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(data, dict):
            return None
        event_type, event_id = data.get("event_type"), data.get("event_id")
        if not isinstance(event_type, str) or not isinstance(event_id, str):
            return None
        try:
            uuid.UUID(event_id)
        except ValueError:
            return None
        return event_type, event_id

    @property
    def position(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"

    def time(self) -> str:
        if self.timestamp_ms is None or self.timestamp_ms < 0:
            return "-"
        moment = datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class ReplayRecord:
    """What `replay` produces for one dead letter."""

    source: DeadLetter
    topic: str
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def dlq_topic_name(topic: str, namespace: str = "") -> str:
    """The dead-letter topic an operator means by `topic`: the topic itself or its `.dlq`,
    within `namespace` (`profile.events`, `profile.events.dlq` and, with namespace `t1.`,
    `t1.profile.events` all name `t1.profile.events.dlq`)."""
    name = topic.strip()
    if not name:
        raise DlqError("the topic name is empty")
    if namespace and not name.startswith(namespace):
        name = f"{namespace}{name}"
    return name if name.endswith(DEAD_LETTER_SUFFIX) else dead_letter_topic(name)


def shorten(text: str, limit: int = 80) -> str:
    """`text` on one line, cut to `limit` characters with an ellipsis."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[: max(0, limit - 3)] + "..."


def format_table(letters: Sequence[DeadLetter], *, error_width: int = 80) -> list[str]:
    """The lines `devstack dlq list` prints for the dead letters of one topic."""
    show_partition = any(letter.partition != 0 for letter in letters)
    header = ["offset", "time (UTC)", "reason", "consumer", "original", "event", "error"]
    if show_partition:
        header.insert(0, "part")
    rows = [header]
    for letter in letters:
        event = letter.event
        row = [
            str(letter.offset),
            letter.time(),
            letter.reason,
            letter.consumer,
            letter.original_position,
            f"{event[0]} {event[1]}" if event else "-",
            shorten(letter.error, error_width),
        ]
        if show_partition:
            row.insert(0, str(letter.partition))
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]])
        for row in rows
    ]


def replay_record(letter: DeadLetter) -> ReplayRecord:
    """The original message of `letter`: same bytes and key, its headers without the `dlq-*`
    ones (an earlier replay's mark included), plus `dlq-replayed-from`."""
    headers = tuple(
        (name, value)
        for name, value in letter.headers
        if name not in DEAD_LETTER_HEADERS and name != REPLAYED_FROM_HEADER
    )
    mark = f"{letter.topic}:{letter.partition}:{letter.offset}".encode()
    return ReplayRecord(
        source=letter,
        topic=letter.original_topic,
        key=letter.key,
        value=letter.value,
        headers=(*headers, (REPLAYED_FROM_HEADER, mark)),
    )


def select(
    letters: Sequence[DeadLetter], *, partition: int, offsets: Sequence[int] | None
) -> list[DeadLetter]:
    """The dead letters to replay: every one when `offsets` is None, else those at `offsets`
    of `partition`, in offset order; an offset that is not there is an error."""
    if offsets is None:
        return sorted(letters, key=lambda letter: (letter.partition, letter.offset))
    wanted = set(offsets)
    found = {
        letter.offset: letter
        for letter in letters
        if letter.partition == partition and letter.offset in wanted
    }
    missing = sorted(wanted - found.keys())
    if missing:
        raise DlqError(
            f"no dead letter at offset(s) {', '.join(map(str, missing))} of partition "
            f"{partition}; `devstack dlq list` shows what there is"
        )
    return [found[offset] for offset in sorted(found)]


def describe_replay(record: ReplayRecord) -> str:
    event = record.source.event
    what = f"{event[0]} {event[1]}" if event else f"{len(record.value)} bytes, not an event"
    key = record.key.decode(errors="replace") if record.key is not None else "-"
    return f"{record.source.position} -> {record.topic} key={key} ({what})"


class Progress:
    """Prints `label: done/total` to `out` at most every `interval` seconds (long runs only)."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        out: IO[str] | None = None,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.total = total
        self._out = out if out is not None else sys.stderr
        self._interval = interval
        self._clock = clock
        self._next = clock() + interval

    def update(self, done: int) -> None:
        now = self._clock()
        if now >= self._next and done < self.total:
            print(f"{self.label}: {done}/{self.total}", file=self._out, flush=True)
            self._next = now + self._interval


# --- the broker --------------------------------------------------------------------------------


async def _start_consumer(bootstrap_servers: str) -> Any:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.errors import KafkaError

    # No group: nothing is committed, and no consumer group of a service is touched.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        client_id="devstack-dlq",
        request_timeout_ms=10_000,
    )
    try:
        await consumer.start()
    except KafkaError as error:
        await consumer.stop()
        raise DlqError(f"the broker at {bootstrap_servers} does not answer: {error!r}") from error
    return consumer


async def _partitions_of(consumer: Any, topic: str) -> set[int]:
    """The partitions of `topic`, from fresh metadata of the whole cluster. (The consumer's own
    metadata, without subscriptions, may predate the topic; `consumer.topics()` makes the
    same request but keeps only the names.)"""
    cluster = await consumer._client.fetch_all_metadata()
    partitions: set[int] | None = cluster.partitions_for_topic(topic)
    return partitions or set()


async def dead_letter_topics(consumer: Any, namespace: str = "") -> list[str]:
    topics: set[str] = await consumer.topics()
    return sorted(t for t in topics if t.endswith(DEAD_LETTER_SUFFIX) and t.startswith(namespace))


async def read_dead_letters(
    consumer: Any,
    topic: str,
    *,
    limit: int | None = None,
    out: IO[str] | None = None,
) -> list[DeadLetter]:
    """Every record of `topic` from the beginning up to its end when called (or the newest
    `limit` of each partition), with a progress line now and then on long reads."""
    from aiokafka import TopicPartition

    partitions = await _partitions_of(consumer, topic)
    if not partitions:
        raise DlqError(f"there is no topic {topic} on the broker")
    assignment = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(assignment)
    beginnings = await consumer.beginning_offsets(assignment)
    ends = await consumer.end_offsets(assignment)
    starts = {p: first_offset(beginnings[p], ends[p], limit) for p in assignment}
    for partition, start in starts.items():
        consumer.seek(partition, start)
    remaining = {p for p in assignment if ends[p] > starts[p]}
    total = sum(ends[p] - starts[p] for p in assignment)
    progress = Progress(f"reading {topic}", total, out=out)
    letters: list[DeadLetter] = []
    last_record = time.monotonic()
    while remaining:
        if time.monotonic() - last_record > _READ_PATIENCE:
            raise DlqError(
                f"{topic}: no record for {_READ_PATIENCE:.0f} s although {len(remaining)} "
                "partition(s) are not read to their end; is the broker healthy?"
            )
        batch = await consumer.getmany(*remaining, timeout_ms=1000)
        if batch:
            last_record = time.monotonic()
        for partition, records in batch.items():
            for record in records:
                if record.offset >= ends[partition]:
                    continue
                letters.append(
                    DeadLetter(
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                        timestamp_ms=record.timestamp,
                        key=record.key,
                        value=record.value or b"",
                        headers=tuple(record.headers or ()),
                    )
                )
        for partition in list(remaining):
            if await consumer.position(partition) >= ends[partition]:
                remaining.discard(partition)
        progress.update(len(letters))
    return sorted(letters, key=lambda letter: (letter.partition, letter.offset))


def first_offset(beginning: int, end: int, limit: int | None) -> int:
    """Where reading a partition starts: its beginning, or `limit` records before its end."""
    return beginning if limit is None else max(beginning, end - limit)


async def list_dead_letters(
    bootstrap_servers: str,
    *,
    topic: str | None,
    namespace: str = "",
    limit: int | None = None,
    out: IO[str] | None = None,
) -> dict[str, list[DeadLetter]]:
    """The dead letters of one dead-letter topic, or of every one (within `namespace`)."""
    consumer = await _start_consumer(bootstrap_servers)
    try:
        if topic is not None:
            topics = [dlq_topic_name(topic, namespace)]
        else:
            topics = await dead_letter_topics(consumer, namespace)
        return {
            name: await read_dead_letters(consumer, name, limit=limit, out=out) for name in topics
        }
    finally:
        await consumer.stop()


async def replay(
    bootstrap_servers: str,
    *,
    topic: str,
    namespace: str = "",
    partition: int = 0,
    offsets: Sequence[int] | None,
    dry_run: bool = False,
    out: IO[str] | None = None,
    err: IO[str] | None = None,
) -> list[ReplayRecord]:
    """Produce the chosen dead letters of `topic` back onto their original topic, in order
    (or, with `dry_run`, only say what would be produced). Returns the records."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    out = out if out is not None else sys.stdout
    name = dlq_topic_name(topic, namespace)
    consumer = await _start_consumer(bootstrap_servers)
    try:
        letters = await read_dead_letters(consumer, name, out=err)
    finally:
        await consumer.stop()
    records = [
        replay_record(letter) for letter in select(letters, partition=partition, offsets=offsets)
    ]
    if dry_run:
        for record in records:
            print(f"would replay {describe_replay(record)}", file=out)
        print(f"dry run: {len(records)} dead letter(s) of {name} would be replayed", file=out)
        return records
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        enable_idempotence=False,
        acks="all",
        client_id="devstack-dlq",
    )
    try:
        await producer.start()
    except KafkaError as error:
        await producer.stop()
        raise DlqError(f"the broker at {bootstrap_servers} does not answer: {error!r}") from error
    progress = Progress(f"replaying {name}", len(records), out=err)
    try:
        for done, record in enumerate(records, start=1):
            # One at a time, waiting for each: the order of one key is kept, and a failure
            # stops the run at a known point (what was printed went out).
            metadata = await producer.send_and_wait(
                record.topic, record.value, key=record.key, headers=list(record.headers)
            )
            print(
                f"replayed {describe_replay(record)} "
                f"as {metadata.topic}[{metadata.partition}]@{metadata.offset}",
                file=out,
                flush=True,
            )
            progress.update(done)
    except KafkaError as error:
        raise DlqError(f"replay stopped: {error!r}; the lines above went out") from error
    finally:
        await producer.stop()
    print(f"{len(records)} dead letter(s) of {name} replayed", file=out)
    return records


def print_listing(
    listing: Mapping[str, Sequence[DeadLetter]], *, out: IO[str], limit: int | None
) -> None:
    if not listing:
        print("no dead-letter topics on the broker", file=out)
        return
    for topic, letters in listing.items():
        shown = "" if limit is None else f" (the newest {limit} per partition at most)"
        print(f"{topic}: {len(letters)} dead letter(s){shown}", file=out)
        if letters:
            for line in format_table(letters):
                print(f"  {line}", file=out)
        print(file=out)
