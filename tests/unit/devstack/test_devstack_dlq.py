"""`devstack dlq`: parsing dead letters, the listing, what a replay produces, the command line."""

from __future__ import annotations

import io
import json

import pytest
from devstack import dlq
from devstack.cli import build_parser
from devstack.dlq import DeadLetter, DlqError, Progress
from mentorship_shared.plumbing import dead_letters

EVENT_ID = "7b0cbb5e-4a59-4ac5-9f4e-2f5ff0b0a1a0"


def letter(
    *,
    value: bytes | None = None,
    headers: dict[str, str] | None = None,
    offset: int = 4,
    partition: int = 0,
    topic: str = "t1.profile.events.dlq",
    key: bytes | None = b"mentee-1",
) -> DeadLetter:
    if value is None:
        value = json.dumps(
            {"event_id": EVENT_ID, "event_type": "MenteeRegistered", "payload": {}}
        ).encode()
    if headers is None:
        headers = {
            "event_type": "MenteeRegistered",
            "trace": "abc",
            "dlq-reason": "handler_failed",
            "dlq-error": "RuntimeError('boom')\n  in the handler",
            "dlq-consumer": "matching/profiles",
            "dlq-original-topic": "t1.profile.events",
            "dlq-original-partition": "3",
            "dlq-original-offset": "17",
        }
    return DeadLetter(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp_ms=1_767_225_600_000,  # 2026-01-01 00:00:00 UTC
        key=key,
        value=value,
        headers=tuple((name, text.encode()) for name, text in headers.items()),
    )


def test_a_dead_letter_reads_its_headers_and_its_event() -> None:
    dead = letter()
    assert dead.reason == "handler_failed"
    assert dead.consumer == "matching/profiles"
    assert dead.original_position == "t1.profile.events[3]@17"
    assert dead.event == ("MenteeRegistered", EVENT_ID)
    assert dead.time() == "2026-01-01 00:00:00"
    assert dead.position == "t1.profile.events.dlq[0]@4"


@pytest.mark.parametrize(
    "value",
    [
        b"{not json at all",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"event_type": "X"}',
        b'{"event_type": "X", "event_id": "not-a-uuid"}',
        b'{"event_type": 7, "event_id": "7b0cbb5e-4a59-4ac5-9f4e-2f5ff0b0a1a0"}',
    ],
)
def test_a_message_that_is_no_event_has_no_type_and_id(value: bytes) -> None:
    assert letter(value=value).event is None


def test_without_dlq_headers_the_original_topic_is_the_dead_letter_topic_without_suffix() -> None:
    dead = letter(headers={})
    assert dead.original_topic == "t1.profile.events"
    assert dead.original_position == "t1.profile.events[?]@?"
    assert dead.reason == "?"


def test_dead_letter_topic_names() -> None:
    assert dlq.dlq_topic_name("profile.events") == "profile.events.dlq"
    assert dlq.dlq_topic_name("profile.events.dlq") == "profile.events.dlq"
    assert dlq.dlq_topic_name("profile.events", "t1.") == "t1.profile.events.dlq"
    assert dlq.dlq_topic_name("t1.profile.events.dlq", "t1.") == "t1.profile.events.dlq"
    with pytest.raises(DlqError, match="empty"):
        dlq.dlq_topic_name("  ")


def test_shorten_keeps_one_line_within_the_limit() -> None:
    assert dlq.shorten("short") == "short"
    cut = dlq.shorten("word " * 100, 20)
    assert len(cut) == 20
    assert cut.endswith("...")
    assert dlq.shorten("a\nb\t c") == "a b c"


def test_the_listing_has_a_row_per_dead_letter_with_the_shortened_error() -> None:
    long_error = "ValidationError: " + "x" * 300
    rows = dlq.format_table(
        [
            letter(offset=0, value=b"{oops", headers={"dlq-reason": "malformed_envelope"}),
            letter(offset=1, headers={"dlq-reason": "invalid_payload", "dlq-error": long_error}),
        ]
    )
    assert rows[0].split() == [
        "offset",
        "time",
        "(UTC)",
        "reason",
        "consumer",
        "original",
        "event",
        "error",
    ]
    assert rows[1].startswith("0 ")
    assert "malformed_envelope" in rows[1]
    assert " - " in rows[1]  # no event in "{oops"
    assert "invalid_payload" in rows[2]
    assert f"MenteeRegistered {EVENT_ID}" in rows[2]
    assert rows[2].endswith("...")
    assert len(rows[2]) < len(long_error)
    # Columns line up: the reason starts at the same place in every row.
    assert rows[1].index("malformed_envelope") == rows[2].index("invalid_payload")


def test_the_listing_names_partitions_only_when_there_are_several() -> None:
    assert "part" not in dlq.format_table([letter()])[0]
    assert dlq.format_table([letter(), letter(partition=1)])[0].startswith("part")


def test_a_replay_is_the_original_bytes_key_and_headers_without_dlq_ones_plus_its_source() -> None:
    dead = letter()
    record = dlq.replay_record(dead)
    assert record.topic == "t1.profile.events"
    assert record.key == b"mentee-1"
    assert record.value == dead.value
    assert record.headers == (
        ("event_type", b"MenteeRegistered"),
        ("trace", b"abc"),
        ("dlq-replayed-from", b"t1.profile.events.dlq:0:4"),
    )


def test_a_replay_of_a_replay_carries_only_the_latest_source() -> None:
    again = letter(
        offset=9,
        headers={
            "dlq-replayed-from": "t1.profile.events.dlq:0:4",
            "dlq-reason": "handler_failed",
            "dlq-original-topic": "t1.profile.events",
        },
    )
    assert dlq.replay_record(again).headers == (
        ("dlq-replayed-from", b"t1.profile.events.dlq:0:9"),
    )


def test_the_header_names_agree_with_the_consumer() -> None:
    assert dlq.REPLAYED_FROM_HEADER == dead_letters.REPLAYED_FROM_HEADER
    assert dlq.DEAD_LETTER_HEADERS == dead_letters.DEAD_LETTER_HEADERS


def test_select_picks_offsets_of_one_partition_in_order_and_refuses_missing_ones() -> None:
    letters = [letter(offset=n) for n in range(5)] + [letter(offset=2, partition=1)]
    picked = dlq.select(letters, partition=0, offsets=[3, 1, 3])
    assert [(d.partition, d.offset) for d in picked] == [(0, 1), (0, 3)]
    assert [d.partition for d in dlq.select(letters, partition=1, offsets=[2])] == [1]
    assert len(dlq.select(letters, partition=0, offsets=None)) == 6
    with pytest.raises(DlqError, match="offset\\(s\\) 7, 8 of partition 0"):
        dlq.select(letters, partition=0, offsets=[1, 7, 8])


def test_describe_replay_names_source_destination_key_and_event() -> None:
    text = dlq.describe_replay(dlq.replay_record(letter()))
    assert text == (
        f"t1.profile.events.dlq[0]@4 -> t1.profile.events key=mentee-1 "
        f"(MenteeRegistered {EVENT_ID})"
    )
    raw = dlq.describe_replay(dlq.replay_record(letter(value=b"{oops", key=None)))
    assert raw.endswith("key=- (5 bytes, not an event)")


def test_progress_is_printed_on_long_runs_only_at_its_interval() -> None:
    now = [0.0]
    out = io.StringIO()
    progress = Progress("replaying x.dlq", 100, out=out, interval=2.0, clock=lambda: now[0])
    progress.update(10)  # too early
    now[0] = 2.0
    progress.update(20)
    now[0] = 3.0
    progress.update(30)  # within the interval of the last line
    now[0] = 4.5
    progress.update(100)  # finished: the final summary says it
    now[0] = 5.0
    progress.update(60)
    assert out.getvalue().splitlines() == ["replaying x.dlq: 20/100", "replaying x.dlq: 60/100"]


def test_the_listing_printout_per_topic() -> None:
    out = io.StringIO()
    dlq.print_listing({"a.dlq": [letter()], "b.dlq": []}, out=out, limit=None)
    text = out.getvalue()
    assert "a.dlq: 1 dead letter(s)\n" in text
    assert "b.dlq: 0 dead letter(s)\n" in text
    out = io.StringIO()
    dlq.print_listing({}, out=out, limit=5)
    assert out.getvalue() == "no dead-letter topics on the broker\n"


def test_command_line_of_list_and_replay() -> None:
    parser = build_parser()
    args = parser.parse_args(["dlq", "list", "--topic", "profile.events", "--limit", "3"])
    assert (args.topic, args.limit, args.namespace) == ("profile.events", 3, "")
    args = parser.parse_args(["dlq", "list"])
    assert (args.topic, args.limit) == (None, 0)
    args = parser.parse_args(
        ["dlq", "replay", "--topic", "p", "--offset", "1", "2", "--offset", "5", "--dry-run"]
    )
    assert (args.offsets, args.all, args.dry_run, args.partition) == ([1, 2, 5], False, True, 0)
    args = parser.parse_args(["dlq", "replay", "--topic", "p", "--all", "--namespace", "t1."])
    assert (args.offsets, args.all, args.namespace) == (None, True, "t1.")


@pytest.mark.parametrize(
    "argv",
    [
        ["dlq", "replay", "--topic", "p"],  # neither --offset nor --all
        ["dlq", "replay", "--topic", "p", "--all", "--offset", "1"],
        ["dlq", "replay", "--offset", "1"],  # no topic
        ["dlq", "list", "--limit", "-1"],
        ["dlq"],
    ],
)
def test_command_line_mistakes_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 2


@pytest.mark.parametrize(
    ("beginning", "end", "limit", "first"),
    [(0, 10, None, 0), (0, 10, 3, 7), (5, 10, 20, 5), (4, 4, 3, 4), (0, 0, None, 0)],
)
def test_reading_starts_at_the_beginning_or_limit_records_before_the_end(
    beginning: int, end: int, limit: int | None, first: int
) -> None:
    assert dlq.first_offset(beginning, end, limit) == first
