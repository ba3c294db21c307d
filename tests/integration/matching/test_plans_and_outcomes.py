"""The matching service in-process with its real database and a real broker: a learning plan
for a mentee nobody suits (published once, readable by its owner only), and a mentorship's end
and outcome arriving on mentorship.events (the slot freed exactly once, the outcome kept once,
redeliveries changing nothing)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from devstack.testing import KafkaHandle
from mentorship_shared.contracts.envelope import EventEnvelope, EventPayload
from mentorship_shared.contracts.events import (
    MenteeRegistered,
    MentorshipEnded,
    MentorshipOutcomeRecorded,
    SideFeedback,
    SkillProgress,
)
from mentorship_shared.contracts.topics import MATCH_EVENTS, MENTORSHIP_EVENTS, PROFILE_EVENTS
from mentorship_shared.plumbing.auth import credential_of, new_token

from tests.support.kafka import events_of, produce, read_topic
from tests.support.profiles import mentee, mentor, registered
from tests.support.services import eventually

pytestmark = pytest.mark.integration

INSIGHT = "customer_insight"
STRATEGY = "product_strategy"
PRICING = "pricing_monetisation"


def wire(event: EventPayload, producer: str) -> bytes:
    return EventEnvelope.wrap(event, producer=producer).to_json()


async def matches_of(client: httpx.AsyncClient, mentee_id: Any) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/mentees/{mentee_id}/matches")
    if response.status_code == 404:
        return []
    assert response.status_code == 200, response.text
    matches: list[dict[str, Any]] = response.json()["matches"]
    return matches


async def processed(matching_db: str) -> int:
    conn = await asyncpg.connect(matching_db)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM processed_events"))
    finally:
        await conn.close()


# --- learning plans ---------------------------------------------------------------------------


async def test_a_mentee_nobody_suits_gets_one_plan_and_only_they_can_read_it(
    matcher: httpx.AsyncClient, kafka: KafkaHandle, namespace: str, matching_db: str
) -> None:
    token = new_token()
    engineer = mentee({PRICING: (1, 4), STRATEGY: (2, 4)}, languages=("fi",))
    registration = wire(
        MenteeRegistered(profile=engineer, owner_credential=credential_of(token)), "profile"
    )
    # Delivered twice: the second is a redelivery the inbox skips.
    await produce(kafka.bootstrap_servers, f"{namespace}{PROFILE_EVENTS}", [registration] * 2)

    records = await read_topic(
        kafka.bootstrap_servers,
        f"{namespace}{MATCH_EVENTS}",
        until=lambda rs: bool(events_of(rs, "LearningPlanIssued")),
    )
    [plan] = events_of(records, "LearningPlanIssued")
    payload = plan["payload"]
    assert payload["mentee_id"] == str(engineer.profile_id)
    assert (payload["plan_version"], payload["resources_version"]) == (1, 1)
    assert [gap["skill"] for gap in payload["gaps"]] == [PRICING, STRATEGY]
    assert [r["kind"] for r in payload["gaps"][0]["resources"]] == ["practice", "course", "book"]
    assert records[0].key == str(engineer.profile_id).encode()

    # A mentor who does not fit either: the matcher tries again and finds nobody, and the
    # same plan is not published again.
    await produce(
        kafka.bootstrap_servers,
        f"{namespace}{PROFILE_EVENTS}",
        [registered(mentor({PRICING: 5}, languages=("de",)))],
    )
    await eventually(lambda: processed(matching_db), lambda n: n == 2)
    again = await read_topic(kafka.bootstrap_servers, f"{namespace}{MATCH_EVENTS}", timeout=1.0)
    assert len(events_of(again, "LearningPlanIssued")) == 1

    url = f"/v1/mentees/{engineer.profile_id}/plan"
    owner = await matcher.get(url, headers={"Authorization": f"Bearer {token}"})
    assert owner.status_code == 200, owner.text
    body = owner.json()
    assert (body["match_id"], body["mentor_id"], body["match_status"]) == (None, None, None)
    assert [(g["skill"], g["current"], g["target"]) for g in body["gaps"]] == [
        (PRICING, 1, 4),
        (STRATEGY, 2, 4),
    ]
    assert all(not g["covered_by_mentor"] and len(g["resources"]) == 3 for g in body["gaps"])
    assert body["last_issued"]["version"] == 1
    assert (await matcher.get(url)).status_code == 200  # the operator
    stranger = await matcher.get(url, headers={"Authorization": f"Bearer {new_token()}"})
    assert stranger.status_code == 404
    nobody = await matcher.get(url, headers={"Authorization": ""})
    assert nobody.status_code == 401
    unknown = await matcher.get(f"/v1/mentees/{uuid.uuid4()}/plan")
    assert unknown.status_code == 404


async def test_the_plan_marks_the_gaps_the_proposed_mentor_covers(
    matcher: httpx.AsyncClient, kafka: KafkaHandle, namespace: str
) -> None:
    match, engineer, _ = await proposed_pair(matcher, kafka, namespace, {INSIGHT: 5})

    plan = (await matcher.get(f"/v1/mentees/{engineer.profile_id}/plan")).json()

    assert (plan["match_id"], plan["match_status"]) == (match["id"], "proposed")
    gaps = {g["skill"]: g for g in plan["gaps"]}
    assert gaps[INSIGHT]["covered_by_mentor"]
    assert gaps[INSIGHT]["resources"] == []
    assert not gaps[STRATEGY]["covered_by_mentor"]
    assert [r["kind"] for r in gaps[STRATEGY]["resources"]] == ["practice", "course", "book"]
    assert plan["last_issued"] is None
    # The proposal itself told the mentee where to start on the gap it leaves.
    assert "To start on it:" in match["explanation"]
    records = await read_topic(
        kafka.bootstrap_servers,
        f"{namespace}{MATCH_EVENTS}",
        until=lambda rs: bool(events_of(rs, "MatchProposed")),
    )
    [proposed] = events_of(records, "MatchProposed")
    [gap] = proposed["payload"]["learning_resources"]
    assert gap["skill"] == STRATEGY
    assert [r["id"] for r in gap["resources"]] == [r["id"] for r in gaps[STRATEGY]["resources"]]


# --- the end of a mentorship ------------------------------------------------------------------


async def proposed_pair(
    matcher: httpx.AsyncClient,
    kafka: KafkaHandle,
    namespace: str,
    strengths: dict[str, int] | None = None,
) -> tuple[dict[str, Any], Any, Any]:
    """A mentor with one slot and a mentee registered through the broker, and their proposal."""
    topic = f"{namespace}{PROFILE_EVENTS}"
    the_mentor = mentor(strengths or {INSIGHT: 5, STRATEGY: 4}, capacity=1)
    engineer = mentee({INSIGHT: (1, 4), STRATEGY: (2, 4)})
    await produce(kafka.bootstrap_servers, topic, [registered(the_mentor)])
    await eventually(
        lambda: matcher.get(f"/v1/mentors/{the_mentor.profile_id}"),
        lambda response: response.status_code == 200,
    )
    await produce(kafka.bootstrap_servers, topic, [registered(engineer)])
    [match] = await eventually(lambda: matches_of(matcher, engineer.profile_id), lambda m: bool(m))
    return match, engineer, the_mentor


async def accepted_pair(
    matcher: httpx.AsyncClient, kafka: KafkaHandle, namespace: str
) -> tuple[dict[str, Any], Any, Any]:
    match, engineer, the_mentor = await proposed_pair(matcher, kafka, namespace)
    for party in ("mentee", "mentor"):
        answer = await matcher.post(f"/v1/matches/{match['id']}/accept", json={"party": party})
        assert answer.status_code == 200, answer.text
    return match, engineer, the_mentor


def mentorship_ended(match: dict[str, Any], mentorship_id: uuid.UUID) -> MentorshipEnded:
    ended_at = datetime.now(UTC)
    return MentorshipEnded(
        mentorship_id=mentorship_id,
        match_id=uuid.UUID(match["id"]),
        mentee_id=uuid.UUID(match["mentee_id"]),
        mentor_id=uuid.UUID(match["mentor_id"]),
        ending="completed",
        cause="goals_achieved",
        ended_by=None,
        ended_at=ended_at,
        feedback_due_by=ended_at + timedelta(days=14),
    )


def outcome_recorded(match: dict[str, Any], mentorship_id: uuid.UUID) -> MentorshipOutcomeRecorded:
    now = datetime.now(UTC)
    return MentorshipOutcomeRecorded(
        mentorship_id=mentorship_id,
        match_id=uuid.UUID(match["id"]),
        mentee_id=uuid.UUID(match["mentee_id"]),
        mentor_id=uuid.UUID(match["mentor_id"]),
        ending="completed",
        completed=True,
        started_at=now - timedelta(days=60),
        ended_at=now,
        mentee_feedback=SideFeedback(round="closing", csat=5, nps=10),
        mentor_feedback=SideFeedback(round="first_check_in", csat=4, nps=8),
        skills=[
            SkillProgress(
                skill=INSIGHT, start=1, target=4, current=4, levels_closed=3, gap_closed=1.0
            ),
            SkillProgress(
                skill=STRATEGY, start=2, target=4, current=3, levels_closed=1, gap_closed=0.5
            ),
        ],
        gap_closed_overall=0.8,
        check_ins=5,
        goals_agreed=3,
        goals_achieved=3,
    )


async def test_a_mentorship_s_end_frees_the_slot_once_for_a_waiting_mentee_and_keeps_its_outcome(
    matcher: httpx.AsyncClient, kafka: KafkaHandle, namespace: str, matching_db: str
) -> None:
    match, engineer, the_mentor = await accepted_pair(matcher, kafka, namespace)
    waiting = mentee({INSIGHT: (2, 4)})
    await produce(kafka.bootstrap_servers, f"{namespace}{PROFILE_EVENTS}", [registered(waiting)])
    await eventually(lambda: processed(matching_db), lambda n: n == 3)
    assert await matches_of(matcher, waiting.profile_id) == []  # the only slot is taken

    mentorship_id = uuid.uuid4()
    ended = wire(mentorship_ended(match, mentorship_id), "mentorship")
    outcome = wire(outcome_recorded(match, mentorship_id), "mentorship")
    # Each delivered twice (a redelivery), one key: one partition, in order.
    await produce(
        kafka.bootstrap_servers,
        f"{namespace}{MENTORSHIP_EVENTS}",
        [ended, ended, outcome, outcome],
        key=str(mentorship_id).encode(),
    )

    [offered] = await eventually(
        lambda: matches_of(matcher, waiting.profile_id), lambda found: bool(found)
    )
    assert offered["mentor_id"] == str(the_mentor.profile_id)
    concluded = (await matcher.get(f"/v1/matches/{match['id']}")).json()
    assert (concluded["status"], concluded["end_reason"]) == ("concluded", "completed")
    slots = (await matcher.get(f"/v1/mentors/{the_mentor.profile_id}")).json()
    assert (slots["open_matches"], slots["free_slots"]) == (1, 0)  # freed once, taken once
    records = await read_topic(
        kafka.bootstrap_servers,
        f"{namespace}{MATCH_EVENTS}",
        until=lambda rs: len(events_of(rs, "MatchProposed")) == 2,
    )
    [event] = events_of(records, "MatchConcluded")
    assert event["payload"]["mentorship_id"] == str(mentorship_id)

    await eventually(lambda: processed(matching_db), lambda n: n == 5)
    conn = await asyncpg.connect(matching_db)
    try:
        [row] = await conn.fetch("SELECT * FROM match_outcomes")
        assert row["match_id"] == uuid.UUID(match["id"])
        assert (row["mentee_csat"], row["mentee_nps"], row["mentor_csat"], row["mentor_nps"]) == (
            5,
            10,
            4,
            8,
        )
        assert row["gap_closed"] == pytest.approx(0.8)
        # A plain connection, without the service's JSON codec: jsonb reads back as text.
        assert json.loads(row["gap_closed_by_skill"]) == {INSIGHT: 1.0, STRATEGY: 0.5}
        assert (row["ending"], row["completed"], row["check_ins"]) == ("completed", True, 5)
        assert row["score"] == pytest.approx(match["score"])
        assert json.loads(row["score_breakdown"]) == match["score_breakdown"]
        assert row["weights_version"] == match["weights_version"]
        load = await conn.fetchval("SELECT load FROM mentors WHERE id = $1", the_mentor.profile_id)
        assert load == 1
        # The pair had its mentorship: it is never proposed again.
        closed = await conn.fetchval(
            "SELECT count(*) FROM matches WHERE mentee_id = $1 AND status = 'concluded'",
            engineer.profile_id,
        )
        assert closed == 1
    finally:
        await conn.close()


async def test_an_end_for_a_match_that_was_never_accepted_or_is_unknown_changes_nothing(
    matcher: httpx.AsyncClient, kafka: KafkaHandle, namespace: str, matching_db: str
) -> None:
    match, _, the_mentor = await proposed_pair(matcher, kafka, namespace)
    stranger = dict(match, id=str(uuid.uuid4()))
    await produce(
        kafka.bootstrap_servers,
        f"{namespace}{MENTORSHIP_EVENTS}",
        [
            wire(mentorship_ended(match, uuid.uuid4()), "mentorship"),
            wire(mentorship_ended(stranger, uuid.uuid4()), "mentorship"),
            wire(outcome_recorded(stranger, uuid.uuid4()), "mentorship"),
        ],
        key=b"one-partition",
    )

    await eventually(lambda: processed(matching_db), lambda n: n == 5)
    still = (await matcher.get(f"/v1/matches/{match['id']}")).json()
    assert still["status"] == "proposed"
    slots = (await matcher.get(f"/v1/mentors/{the_mentor.profile_id}")).json()
    assert slots["open_matches"] == 1
    conn = await asyncpg.connect(matching_db)
    try:
        assert await conn.fetchval("SELECT count(*) FROM match_outcomes") == 0
        dead = await conn.fetchval(
            "SELECT count(*) FROM processed_events WHERE outcome <> 'handled'"
        )
        assert dead == 0
    finally:
        await conn.close()
