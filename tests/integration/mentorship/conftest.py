"""Fixtures of the mentorship service's integration tests: the service in-process on its own
database and topics, with a clock the tests move instead of waiting for weeks to pass."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from devstack.testing import KafkaHandle
from mentorship_service.app import create_app
from mentorship_shared.contracts.envelope import EventEnvelope, EventPayload
from mentorship_shared.contracts.events import (
    MatchAccepted,
    MenteeProfile,
    MenteeRegistered,
    MentorProfile,
    MentorRegistered,
)
from mentorship_shared.contracts.topics import MATCH_EVENTS, MENTORSHIP_EVENTS, PROFILE_EVENTS
from mentorship_shared.plumbing.auth import credential_of, new_token

from tests.support.kafka import produce, read_topic
from tests.support.profiles import mentee, mentor
from tests.support.services import (
    OPERATOR_KEY,
    eventually,
    mentorship_settings,
    serve_in_process,
)
from tests.support.sessions import SIGNER


class MovableClock:
    """The service's "now": starts at the real time and moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
async def mentorship_db(new_database: Callable[[str], Awaitable[str]]) -> str:
    return await new_database("mentorship")


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def service(
    mentorship_db: str, kafka: KafkaHandle, namespace: str, clock: MovableClock
) -> AsyncIterator[httpx.AsyncClient]:
    """The mentorship service; its client sends the operator key unless a request says else.
    It accepts the session credentials of tests.support.sessions.SIGNER, as a stack's service
    accepts those of its profile service."""
    settings = mentorship_settings(
        mentorship_db, kafka, namespace, session_public_key=SIGNER.public_key_text
    )
    app = create_app(settings, clock=clock)
    async with serve_in_process(app, bearer=OPERATOR_KEY) as client:
        yield client


@pytest.fixture
async def db(mentorship_db: str, service: httpx.AsyncClient) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the service's database (migrated by the running service)."""
    conn = await asyncpg.connect(mentorship_db)
    try:
        yield conn
    finally:
        await conn.close()


@dataclass(frozen=True)
class Pair:
    """A mentee and a mentor whose match was accepted, with their bearer tokens."""

    mentee: MenteeProfile
    mentor: MentorProfile
    mentee_token: str
    mentor_token: str
    match_id: uuid.UUID

    @property
    def as_mentee(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.mentee_token}"}

    @property
    def as_mentor(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.mentor_token}"}


def wire(event: EventPayload, producer: str) -> bytes:
    return EventEnvelope.wrap(event, producer=producer).to_json()


async def publish(kafka: KafkaHandle, namespace: str, topic: str, *events: bytes) -> None:
    await produce(kafka.bootstrap_servers, f"{namespace}{topic}", list(events))


async def accepted_pair(
    kafka: KafkaHandle,
    namespace: str,
    clock: MovableClock,
    skills: dict[str, tuple[int, int]] | None = None,
) -> Pair:
    """Register a mentee and a mentor (with credentials) and accept their match."""
    engineer = mentee(skills or {"pricing_monetisation": (1, 4), "product_strategy": (2, 4)})
    pm = mentor({"pricing_monetisation": 5, "product_strategy": 4})
    mentee_token, mentor_token = new_token(), new_token()
    await publish(
        kafka,
        namespace,
        PROFILE_EVENTS,
        wire(
            MenteeRegistered(profile=engineer, owner_credential=credential_of(mentee_token)),
            "profile",
        ),
        wire(MentorRegistered(profile=pm, owner_credential=credential_of(mentor_token)), "profile"),
    )
    match_id = uuid.uuid4()
    await publish(
        kafka,
        namespace,
        MATCH_EVENTS,
        wire(
            MatchAccepted(
                match_id=match_id,
                mentee_id=engineer.profile_id,
                mentor_id=pm.profile_id,
                accepted_at=clock(),
            ),
            "matching",
        ),
    )
    return Pair(engineer, pm, mentee_token, mentor_token, match_id)


async def started_mentorship(client: httpx.AsyncClient, pair: Pair) -> dict[str, Any]:
    """The pair's mentorship once the service has started it and knows the mentee's gaps."""

    async def mine() -> list[dict[str, Any]]:
        response = await client.get(
            f"/v1/people/{pair.mentee.profile_id}/mentorships", headers=pair.as_mentee
        )
        found: list[dict[str, Any]] = response.json().get("mentorships", [])
        return found if response.status_code == 200 else []

    listed = await eventually(mine, lambda ms: len(ms) == 1)
    mentorship_id = listed[0]["id"]

    async def view() -> dict[str, Any]:
        response = await client.get(f"/v1/mentorships/{mentorship_id}", headers=pair.as_mentee)
        body: dict[str, Any] = response.json()
        return body

    return await eventually(view, lambda m: bool(m.get("progress", {}).get("skills")))


async def mentorship_events(
    kafka: KafkaHandle,
    namespace: str,
    until: Callable[[list[dict[str, Any]]], bool],
    *,
    timeout: float = 20.0,
) -> list[dict[str, Any]]:
    """Every envelope on mentorship.events (as dicts), once `until` holds for them."""

    def envelopes(records: list[Any]) -> list[dict[str, Any]]:
        return [json.loads(record.value) for record in records]

    records = await read_topic(
        kafka.bootstrap_servers,
        f"{namespace}{MENTORSHIP_EVENTS}",
        until=lambda rs: until(envelopes(rs)),
        timeout=timeout,
    )
    return envelopes(records)


async def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The JSON body of an answer that must have `status`."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def of_type(envelopes: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [e for e in envelopes if e["event_type"] == event_type]
