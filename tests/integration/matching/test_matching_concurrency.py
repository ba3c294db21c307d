"""Four matcher instances on one database and one consumer group, consuming profile events
and serving requests, rounds and answers at the same time: nobody is double-booked."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
import httpx
import pytest
from devstack.testing import KafkaHandle
from matching_service.app import create_app
from matching_service.config import MatchingSettings
from mentorship_shared.contracts.topics import PROFILE_EVENTS

from tests.support.kafka import produce
from tests.support.profiles import mentee, mentor, registered
from tests.support.services import FAST_KAFKA, OPERATOR_KEY, eventually, serve_in_process

pytestmark = pytest.mark.integration

SKILLS = ["pricing_monetisation", "product_strategy", "customer_insight", "go_to_market"]


async def test_four_matchers_at_once_never_overbook_a_mentor_or_double_match_a_mentee(
    new_database: Callable[[str], Awaitable[str]], kafka: KafkaHandle, namespace: str
) -> None:
    database = await new_database("matching")
    settings = MatchingSettings(
        database_url=database,
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        kafka_topic_namespace=namespace,
        operator_api_key=OPERATOR_KEY,
        expiry_poll_seconds=0.2,
        **FAST_KAFKA,
    )
    rng = random.Random(7)
    mentors = [
        mentor(
            {skill: rng.randint(2, 5) for skill in SKILLS},
            capacity=rng.randint(1, 3),
            languages=("en",) if i % 4 else ("en", "de"),
        )
        for i in range(8)
    ]
    mentees = [
        mentee(
            {skill: (rng.randint(0, 2), rng.randint(3, 5)) for skill in rng.sample(SKILLS, 2)},
            languages=("en",) if i % 5 else ("de",),
        )
        for i in range(40)
    ]
    topic = f"{namespace}{PROFILE_EVENTS}"
    statuses: Counter[int] = Counter()

    async with AsyncExitStack() as stack:
        matchers = [
            await stack.enter_async_context(
                serve_in_process(create_app(settings), bearer=OPERATOR_KEY)
            )
            for _ in range(4)
        ]

        async def registrations() -> None:
            # Keys differ, so the events spread over every partition and so over every
            # instance of the consumer group.
            for profile in [*mentors, *mentees]:
                await produce(
                    kafka.bootstrap_servers,
                    topic,
                    [registered(profile)],
                    key=str(profile.profile_id).encode(),
                )

        async def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
            response = await rng.choice(matchers).request(method, path, **kwargs)
            statuses[response.status_code] += 1
            return response

        async def chaos(worker: int) -> None:
            """Mentees pick mentors from their suggestions, both sides answer, operators run
            rounds: all through random instances while the events are being consumed."""
            local = random.Random(worker)
            for _ in range(30):
                engineer = local.choice(mentees)
                action = local.random()
                if action < 0.45:
                    response = await call("GET", f"/v1/mentees/{engineer.profile_id}/suggestions")
                    if response.status_code == 200 and response.json()["suggestions"]:
                        pick = local.choice(response.json()["suggestions"])
                        await call(
                            "POST",
                            f"/v1/mentees/{engineer.profile_id}/requests",
                            json={"mentor_id": pick["mentor_id"]},
                        )
                elif action < 0.9:
                    response = await call("GET", f"/v1/mentees/{engineer.profile_id}/matches")
                    open_matches = [
                        m
                        for m in (response.json()["matches"] if response.status_code == 200 else [])
                        if m["status"] == "proposed"
                    ]
                    if open_matches:
                        verb = local.choice(["accept", "decline"])
                        await call(
                            "POST",
                            f"/v1/matches/{open_matches[0]['id']}/{verb}",
                            json={"party": local.choice(["mentee", "mentor"])},
                        )
                else:
                    await call("POST", "/v1/rounds")
                await asyncio.sleep(local.random() * 0.05)

        async def chaos_once_consuming() -> None:
            # Four instances joining the group can take longer than the whole chaos, which
            # would then only ever meet unknown mentees: start once the first mentees are in.
            watcher = await asyncpg.connect(database)
            try:
                await eventually(
                    lambda: watcher.fetchval("SELECT count(*) FROM processed_events"),
                    lambda n: n >= len(mentors) + 4,
                    timeout=60,
                )
            finally:
                await watcher.close()
            await asyncio.gather(*(chaos(worker) for worker in range(4)))

        await asyncio.gather(registrations(), chaos_once_consuming())

        conn = await asyncpg.connect(database)
        try:
            await eventually(
                lambda: conn.fetchval("SELECT count(*) FROM processed_events"),
                lambda n: n == len(mentors) + len(mentees),
                timeout=60,
            )
            # One more round once everything has arrived, through yet another instance.
            response = await matchers[3].post("/v1/rounds")
            assert response.status_code == 201, response.text
            await check_invariants(conn)
            assert await conn.fetchval("SELECT count(*) FROM matches") > 0
        finally:
            await conn.close()

    assert not [code for code in statuses if code >= 500], statuses
    # The chaos did reach the interesting paths, not only 404s for unknown mentees.
    assert statuses[200] > 0, statuses
    assert statuses[201] > 0, statuses


async def check_invariants(conn: asyncpg.Connection) -> None:
    mentors = await conn.fetch(
        """
        SELECT m.id, m.capacity, m.requested_capacity, m.load,
               (SELECT count(*) FROM matches x
                WHERE x.mentor_id = m.id AND x.status IN ('proposed', 'accepted')) AS open
        FROM mentors m
        """
    )
    for row in mentors:
        # The load counter is exactly the open matches, and within what the mentor asked for
        # (nobody lowered a capacity here, so the ceiling never had to stay above the wish).
        assert row["load"] == row["open"], dict(row)
        assert row["open"] <= row["requested_capacity"], dict(row)
    doubled = await conn.fetch(
        """
        SELECT mentee_id, count(*) FROM matches WHERE status IN ('proposed', 'accepted')
        GROUP BY mentee_id HAVING count(*) > 1
        """
    )
    assert doubled == []
    repeated = await conn.fetch(
        """
        SELECT later.id FROM matches declined
        JOIN matches later ON later.mentee_id = declined.mentee_id
                          AND later.mentor_id = declined.mentor_id
                          AND later.proposed_at > declined.ended_at
        WHERE declined.status = 'declined'
        """
    )
    assert repeated == [], "a declined pair was proposed again"
    events = {
        row["event_type"]: row["count"]
        for row in await conn.fetch("SELECT event_type, count(*) FROM outbox GROUP BY event_type")
    }
    counts = await conn.fetchrow(
        """
        SELECT count(*) AS proposed,
               count(*) FILTER (WHERE status = 'declined') AS declined,
               count(*) FILTER (WHERE accepted_at IS NOT NULL) AS accepted
        FROM matches
        """
    )
    # Every state change was published exactly once, in the transaction that made it.
    assert events.get("MatchProposed", 0) == counts["proposed"]
    assert events.get("MatchDeclined", 0) == counts["declined"]
    assert events.get("MatchAccepted", 0) == counts["accepted"]
