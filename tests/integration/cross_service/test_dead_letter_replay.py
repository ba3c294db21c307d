"""`devstack dlq list` and `replay` against the matching service, a real broker and database.

A valid MentorRegistered fails in the matcher (a trigger in its database refuses that mentor)
until it is dead-lettered, next to a malformed message; `list` shows both; once the trigger is
gone, `replay` puts the event back and the matcher records the mentor, although the event id
was already in its inbox as dead-lettered. The malformed one, replayed, is parked again.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from devstack.cli import main
from devstack.testing import KafkaHandle
from mentorship_shared.contracts.envelope import EventEnvelope
from mentorship_shared.contracts.topics import PROFILE_EVENTS, dead_letter_topic

from tests.support.kafka import produce, read_topic
from tests.support.profiles import mentor, registered
from tests.support.services import eventually

pytestmark = pytest.mark.integration


async def sql(url: str, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def execute(url: str, statements: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statements)
    finally:
        await conn.close()


async def devstack(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run the devstack command line (it runs its own event loop, so in a thread)."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, list(argv))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


async def test_dead_letters_are_listed_and_a_replay_after_the_fix_is_processed_once(
    matcher: httpx.AsyncClient,
    kafka: KafkaHandle,
    namespace: str,
    matching_db: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    refused = mentor({"pricing_monetisation": 5})
    marker = mentor({"product_metrics": 5})
    await execute(
        matching_db,
        "CREATE FUNCTION refuse_mentor() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'this mentor is refused for the test'; END; $$; "
        f"CREATE TRIGGER refuse_mentor BEFORE INSERT ON mentors FOR EACH ROW "
        f"WHEN (NEW.id = '{refused.profile_id}') EXECUTE FUNCTION refuse_mentor()",
    )
    refused_event = registered(refused)
    event_id = EventEnvelope.from_json(refused_event).event_id
    topic = f"{namespace}{PROFILE_EVENTS}"
    dlq_topic = f"{namespace}{dead_letter_topic(PROFILE_EVENTS)}"
    await produce(
        kafka.bootstrap_servers,
        topic,
        [b"{not json at all", refused_event, registered(marker)],
        key=b"one-partition",
        headers=[("trace", b"t-42")],
    )
    # The partition moved on past both: the marker mentor is known.
    await eventually(
        lambda: matcher.get(f"/v1/mentors/{marker.profile_id}"), lambda r: r.status_code == 200
    )
    parked = await read_topic(kafka.bootstrap_servers, dlq_topic, until=lambda rs: len(rs) == 2)
    offsets = {dict(r.headers)["dlq-reason"].decode(): r.offset for r in parked}
    assert set(offsets) == {"malformed_envelope", "handler_failed"}

    listing = await devstack(
        capsys, "dlq", "list", "--bootstrap", kafka.bootstrap_servers, "--namespace", namespace
    )
    assert f"{dlq_topic}: 2 dead letter(s)" in listing
    rows = {line.split()[0]: line for line in listing.splitlines() if line.startswith("  ")}
    failed = rows[str(offsets["handler_failed"])]
    assert f"MentorRegistered {event_id}" in failed
    assert "matching/" in failed
    assert f"{topic}[" in failed
    assert "this mentor is refused" in failed
    assert "malformed_envelope" in rows[str(offsets["malformed_envelope"])]
    only_one = await devstack(
        capsys,
        "dlq",
        "list",
        "--topic",
        PROFILE_EVENTS,
        "--limit",
        "1",
        "--bootstrap",
        kafka.bootstrap_servers,
        "--namespace",
        namespace,
    )
    assert only_one.count(f"{topic}[") == 1

    # Still refused: the matcher does not know the mentor; the inbox says dead-lettered.
    assert (await matcher.get(f"/v1/mentors/{refused.profile_id}")).status_code == 404
    [row] = await sql(
        matching_db, "SELECT outcome FROM processed_events WHERE event_id = $1", event_id
    )
    assert row["outcome"] == "dead_lettered"

    common = ("--bootstrap", kafka.bootstrap_servers, "--namespace", namespace)
    dry = await devstack(
        capsys,
        "dlq",
        "replay",
        "--topic",
        PROFILE_EVENTS,
        "--offset",
        str(offsets["handler_failed"]),
        "--dry-run",
        *common,
    )
    assert f"would replay {dlq_topic}[0]@{offsets['handler_failed']} -> {topic}" in dry

    await execute(matching_db, "DROP TRIGGER refuse_mentor ON mentors")  # the fix
    done = await devstack(
        capsys,
        "dlq",
        "replay",
        "--topic",
        PROFILE_EVENTS,
        "--offset",
        str(offsets["handler_failed"]),
        *common,
    )
    assert f"replayed {dlq_topic}[0]@{offsets['handler_failed']} -> {topic}" in done
    assert "1 dead letter(s)" in done

    await eventually(
        lambda: matcher.get(f"/v1/mentors/{refused.profile_id}"), lambda r: r.status_code == 200
    )
    [row] = await sql(
        matching_db,
        "SELECT outcome, source_topic, source_offset FROM processed_events WHERE event_id = $1",
        event_id,
    )
    assert row["outcome"] == "handled"
    assert row["source_topic"] == topic
    # The replay went onto the original topic with the original key and headers, marked.
    records = await read_topic(
        kafka.bootstrap_servers, topic, until=lambda rs: len(rs) == 4, timeout=15
    )
    [replayed] = [r for r in records if r.offset == row["source_offset"]]
    headers = dict(replayed.headers)
    assert replayed.value == refused_event
    assert replayed.key == b"one-partition"
    assert headers["trace"] == b"t-42"
    assert headers["dlq-replayed-from"] == f"{dlq_topic}:0:{offsets['handler_failed']}".encode()
    assert not any(name.startswith("dlq-") and name != "dlq-replayed-from" for name in headers)

    # The malformed message, replayed, still cannot be processed: it is parked once more,
    # marked as a replay, and the partition keeps flowing.
    await devstack(
        capsys,
        "dlq",
        "replay",
        "--topic",
        f"{PROFILE_EVENTS}.dlq",
        "--offset",
        str(offsets["malformed_envelope"]),
        *common,
    )
    later = mentor({"go_to_market": 5})
    await produce(kafka.bootstrap_servers, topic, [registered(later)], key=b"one-partition")
    parked = await read_topic(kafka.bootstrap_servers, dlq_topic, until=lambda rs: len(rs) == 3)
    again = dict(parked[-1].headers)
    assert again["dlq-reason"] == b"malformed_envelope"
    assert again["dlq-replayed-from"] == f"{dlq_topic}:0:{offsets['malformed_envelope']}".encode()
    assert parked[-1].value == b"{not json at all"
    await eventually(
        lambda: matcher.get(f"/v1/mentors/{later.profile_id}"), lambda r: r.status_code == 200
    )
    # Each event is in the inbox once; nothing was handled twice.
    outcomes = await sql(
        matching_db, "SELECT outcome, count(*) AS n FROM processed_events GROUP BY 1"
    )
    assert {r["outcome"]: r["n"] for r in outcomes} == {"handled": 3, "dead_lettered": 1}


async def test_replaying_offsets_that_are_not_there_replays_nothing_and_says_so(
    kafka: KafkaHandle, namespace: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = await asyncio.to_thread(
        main,
        [
            "dlq",
            "replay",
            "--topic",
            PROFILE_EVENTS,
            "--offset",
            "0",
            "--bootstrap",
            kafka.bootstrap_servers,
            "--namespace",
            namespace,
        ],
    )
    assert code == 1
    assert "no dead letter at offset(s) 0 of partition 0" in capsys.readouterr().err
    missing = await asyncio.to_thread(
        main,
        [
            "dlq",
            "list",
            "--topic",
            f"nothing-{uuid.uuid4().hex[:6]}",
            "--bootstrap",
            kafka.bootstrap_servers,
        ],
    )
    assert missing == 1
    assert "there is no topic" in capsys.readouterr().err
