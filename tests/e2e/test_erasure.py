"""End to end: a mentee who erases their profile leaves nothing behind in any service's
database, and replaying the profile and match topics from the start does not bring them back."""

from __future__ import annotations

import json
import operator
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord
from devstack.smtp_sink import SmtpSink
from devstack.stack import Stack
from devstack.testing import KafkaHandle
from mentorship_shared.contracts.envelope import EventEnvelope, EventPayload
from mentorship_shared.contracts.events import MatchAccepted, ProfileDeleted
from mentorship_shared.contracts.topics import MATCH_EVENTS, PROFILE_EVENTS, namespaced

from tests.e2e.conftest import SERVICES
from tests.support.kafka import read_topic
from tests.support.services import OPERATOR_KEY, eventually

pytestmark = pytest.mark.e2e


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def traces(database_url: str, needles: list[str]) -> list[str]:
    """Every place in the database's public tables where one of `needles` occurs: each value of
    each row as text, bytea columns (outbox payloads) decoded as UTF-8."""
    found = []
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetch(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
        for table in (t["table_name"] for t in tables):
            for row in await conn.fetch(f'SELECT * FROM "{table}"'):
                for column, value in row.items():
                    text = (
                        bytes(value).decode(errors="replace")
                        if isinstance(value, bytes | bytearray | memoryview)
                        else str(value)
                    ).lower()
                    found += [
                        f"{table}.{column} holds {needle!r}: {text[:300]}"
                        for needle in needles
                        if needle.lower() in text
                    ]
    finally:
        await conn.close()
    return found


async def traces_everywhere(stack: Stack, needles: list[str]) -> dict[str, list[str]]:
    return {name: await traces(stack.databases[name], needles) for name in SERVICES}


async def processed(database_url: str, event_ids: list[uuid.UUID]) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        count: int = await conn.fetchval(
            "SELECT count(DISTINCT event_id) FROM processed_events WHERE event_id = ANY($1)",
            event_ids,
        )
    finally:
        await conn.close()
    return count


async def is_erased(database_url: str, profile_id: str) -> bool:
    conn = await asyncpg.connect(database_url)
    try:
        return bool(
            await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM erased_profiles WHERE id = $1)",
                uuid.UUID(profile_id),
            )
        )
    finally:
        await conn.close()


@dataclass(frozen=True)
class Message:
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]

    @classmethod
    def of(cls, record: ConsumerRecord[bytes, bytes]) -> Message:
        return cls(record.key, record.value, list(record.headers))

    @classmethod
    def marker(cls, key: bytes | None, event: EventPayload) -> Message:
        """A harmless event on the partition of `key`: once it has been processed, so has
        everything published before it there."""
        return cls(key, EventEnvelope.wrap(event, producer="test").to_json(), [])

    def with_new_event_id(self) -> Message:
        """The same event published again under a new event id: no inbox recognises it."""
        envelope = json.loads(self.value)
        envelope["event_id"] = str(uuid.uuid4())
        headers = [
            (name, envelope["event_id"].encode() if name == "event_id" else value)
            for name, value in self.headers
        ]
        return Message(self.key, json.dumps(envelope).encode(), headers)

    @property
    def event_id(self) -> uuid.UUID:
        return uuid.UUID(json.loads(self.value)["event_id"])


async def republish(bootstrap_servers: str, topic: str, messages: list[Message]) -> None:
    """Produce `messages` in order, each with its key and headers."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, enable_idempotence=False)
    await producer.start()
    try:
        for message in messages:
            await producer.send_and_wait(
                topic, message.value, key=message.key, headers=message.headers
            )
    finally:
        await producer.stop()


async def test_an_erased_mentee_leaves_no_trace_in_any_service_even_after_a_replay(
    stack: Stack, kafka: KafkaHandle, smtp_sink: SmtpSink, unique: str
) -> None:
    profile, matching, notification = (
        stack.urls[n] for n in ("profile", "matching", "notification")
    )
    secret = uuid.uuid4().hex  # in the mentee's name, address and free text only
    mentee_name, mentee_email = f"Erin Erasable {secret}", f"erin-{secret}@example.com"
    mentor_email = f"mira-{unique}@example.com"
    needles = [mentee_email, mentee_name, secret]

    async with httpx.AsyncClient(timeout=10) as http:

        async def notifications() -> list[dict[str, Any]]:
            response = await http.get(
                f"{notification}/v1/notifications", headers=bearer(OPERATOR_KEY)
            )
            assert response.status_code == 200, response.text
            listing: list[dict[str, Any]] = response.json()["notifications"]
            return listing

        def sent(listing: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
            return [
                n for n in listing if n["source_event_type"] == event_type and n["status"] == "sent"
            ]

        registered_mentor = await http.post(
            f"{profile}/v1/mentors",
            json={
                "name": "Mira Mentor",
                "email": mentor_email,
                "timezone": "Europe/Madrid",
                "languages": ["en"],
                "capacity": 1,
                "was_engineer": True,
                "skills": [{"skill": "go_to_market", "level": 5}],
            },
        )
        assert registered_mentor.status_code == 201, registered_mentor.text
        mentor_id, mentor_token = registered_mentor.json()["id"], registered_mentor.json()["token"]
        await eventually(
            lambda: http.get(f"{matching}/v1/mentors/{mentor_id}", headers=bearer(mentor_token)),
            lambda response: response.status_code == 200,
        )
        registered_mentee = await http.post(
            f"{profile}/v1/mentees",
            json={
                "name": mentee_name,
                "email": mentee_email,
                "timezone": "Europe/Lisbon",
                "languages": ["en"],
                "skills": [{"skill": "go_to_market", "current": 1, "target": 4}],
                "goals": f"Run the launch of {secret} next year",
            },
        )
        assert registered_mentee.status_code == 201, registered_mentee.text
        mentee_id, mentee_token = registered_mentee.json()["id"], registered_mentee.json()["token"]

        async def matches() -> list[dict[str, Any]]:
            response = await http.get(
                f"{matching}/v1/mentees/{mentee_id}/matches", headers=bearer(mentee_token)
            )
            found: list[dict[str, Any]] = (
                response.json()["matches"] if response.status_code == 200 else []
            )
            return found

        try:
            [match] = await eventually(matches, lambda found: len(found) == 1, timeout=30)
            await eventually(
                notifications, lambda ns: len(sent(ns, "MatchProposed")) == 2, timeout=30
            )
        except AssertionError as error:
            raise AssertionError(f"{error}\n{stack.log_tail()}") from error
        assert match["mentor_id"] == mentor_id
        for token in (mentee_token, mentor_token):
            answer = await http.post(
                f"{matching}/v1/matches/{match['id']}/accept", json={}, headers=bearer(token)
            )
            assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "accepted"
        await eventually(notifications, lambda ns: len(sent(ns, "MatchAccepted")) == 2, timeout=30)

        # The search works: before the erasure it finds the mentee where they are kept.
        before = await traces_everywhere(stack, needles)
        assert {t.split(".")[0] for t in before["profile"]} >= {"profiles", "outbox"}, before
        assert {t.split(".")[0] for t in before["notification"]} >= {"contacts"}, before
        assert any(t.startswith("notifications.subject") for t in before["notification"]), before

        deleted = await http.delete(
            f"{profile}/v1/profiles/{mentee_id}", headers=bearer(mentee_token)
        )
        assert deleted.status_code == 204, deleted.text
        try:
            for service in ("matching", "notification"):
                await eventually(
                    partial(is_erased, stack.databases[service], mentee_id),
                    lambda erased: erased,
                    timeout=30,
                )
            # The mentor hears that the match ended, from a mail that names nobody.
            listing = await eventually(
                notifications,
                lambda ns: any(n["recipient_id"] == mentor_id for n in sent(ns, "MatchExpired")),
                timeout=30,
            )
        except AssertionError as error:
            raise AssertionError(f"{error}\n{stack.log_tail()}") from error

        after = await traces_everywhere(stack, needles)
        assert after == {name: [] for name in SERVICES}, json.dumps(after, indent=2)

        # The accepted match ended and the mentor's slot is free again.
        slots = await http.get(f"{matching}/v1/mentors/{mentor_id}", headers=bearer(mentor_token))
        assert slots.status_code == 200, slots.text
        assert slots.json()["open_matches"] == 0
        ended_match = await http.get(
            f"{matching}/v1/matches/{match['id']}", headers=bearer(mentor_token)
        )
        assert ended_match.status_code == 200, ended_match.text
        assert (ended_match.json()["status"], ended_match.json()["end_reason"]) == (
            "expired",
            "profile_deleted",
        )
        assert [n["recipient_id"] for n in sent(listing, "MatchExpired")] == [mentor_id]

    to_mentor = [m for m in smtp_sink.messages() if mentor_email in str(m["To"])]
    [farewell] = [m for m in to_mentor if m["Subject"] == "Your match has ended"]
    assert "left the programme" in farewell.get_content()
    assert not any(needle.lower() in farewell.as_string().lower() for needle in needles)
    mails = len(smtp_sink.messages())

    # Replay every record of the profile and match topics as it is (the inboxes know the event
    # ids), then the profile events once more under new event ids, as a re-publication would
    # carry them: then only the services' tombstones stand in the way.
    profile_topic = namespaced(PROFILE_EVENTS, stack.namespace)
    match_topic = namespaced(MATCH_EVENTS, stack.namespace)
    profile_records = await read_topic(
        kafka.bootstrap_servers, profile_topic, until=lambda rs: len(rs) >= 3
    )
    match_records = await read_topic(
        kafka.bootstrap_servers, match_topic, until=lambda rs: len(rs) >= 3
    )
    assert sorted(json.loads(r.value)["event_type"] for r in profile_records) == [
        "MenteeRegistered",
        "MentorRegistered",
        "ProfileDeleted",
    ]
    assert sorted(json.loads(r.value)["event_type"] for r in match_records) == [
        "MatchAccepted",
        "MatchExpired",
        "MatchProposed",
    ]
    profile_events = [Message.of(r) for r in profile_records]
    match_events = [Message.of(r) for r in match_records]
    # After the replayed records, on each of their partitions, a marker that changes nothing:
    # the deletion of a profile nobody knows, and a match between two people nobody knows
    # (its mails wait for their addresses for ever).
    profile_markers = [
        Message.marker(key, ProfileDeleted(profile_id=uuid.uuid4(), kind="mentee", version=1))
        for key in {m.key for m in profile_events}
    ]
    match_markers = [
        Message.marker(
            key,
            MatchAccepted(
                match_id=uuid.uuid4(),
                mentee_id=uuid.uuid4(),
                mentor_id=uuid.uuid4(),
                accepted_at=datetime.now(UTC),
            ),
        )
        for key in {m.key for m in match_events}
    ]
    await republish(
        kafka.bootstrap_servers,
        profile_topic,
        profile_events + [m.with_new_event_id() for m in profile_events] + profile_markers,
    )
    await republish(kafka.bootstrap_servers, match_topic, match_events + match_markers)
    markers = {
        "matching": [m.event_id for m in profile_markers],
        "notification": [m.event_id for m in profile_markers + match_markers],
    }
    try:
        for service, event_ids in markers.items():
            await eventually(
                partial(processed, stack.databases[service], event_ids),
                partial(operator.eq, len(event_ids)),
                timeout=30,
            )
    except AssertionError as error:
        raise AssertionError(f"{error}\n{stack.log_tail()}") from error

    replayed = await traces_everywhere(stack, needles)
    assert replayed == {name: [] for name in SERVICES}, json.dumps(replayed, indent=2)
    async with httpx.AsyncClient(timeout=10) as http:
        slots = await http.get(f"{matching}/v1/mentors/{mentor_id}", headers=bearer(mentor_token))
        assert slots.json()["open_matches"] == 0
    assert len(smtp_sink.messages()) == mails  # the replay sent nobody anything
