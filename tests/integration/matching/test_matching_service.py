"""The matching service in-process, fed profile events through a real broker, with its own
real database: who gets proposed, capacity, and bad messages."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx
import pytest
from devstack.testing import KafkaHandle
from mentorship_shared.contracts.topics import MATCH_EVENTS, PROFILE_EVENTS, dead_letter_topic

from tests.support.kafka import events_of, produce, read_topic
from tests.support.profiles import mentee, mentor, registered
from tests.support.services import OPERATOR_KEY, eventually

pytestmark = pytest.mark.integration


async def matches_of(client: httpx.AsyncClient, mentee_id: Any) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/mentees/{mentee_id}/matches")
    if response.status_code == 404:
        return []
    assert response.status_code == 200, response.text
    matches: list[dict[str, Any]] = response.json()["matches"]
    return matches


async def test_the_mentor_strongest_in_the_biggest_gap_is_proposed(
    matcher: httpx.AsyncClient, kafka: KafkaHandle, namespace: str
) -> None:
    pricing = mentor({"pricing_monetisation": 5, "technical_depth": 3})
    communication = mentor({"stakeholder_communication": 5, "technical_depth": 3})
    engineer = mentee(
        {
            "pricing_monetisation": (0, 4),
            "stakeholder_communication": (3, 4),
            "technical_depth": (5, 5),
        }
    )
    topic = f"{namespace}{PROFILE_EVENTS}"
    await produce(kafka.bootstrap_servers, topic, [registered(pricing), registered(communication)])
    # Profiles travel on different partitions in no fixed order: the mentee comes once the
    # matcher knows both mentors.
    for known in (pricing, communication):
        await eventually(
            lambda known=known: matcher.get(f"/v1/mentors/{known.profile_id}"),
            lambda response: response.status_code == 200,
        )
    await produce(kafka.bootstrap_servers, topic, [registered(engineer)])

    [match] = await eventually(lambda: matches_of(matcher, engineer.profile_id), lambda m: bool(m))

    assert match["mentor_id"] == str(pricing.profile_id)
    assert match["status"] == "proposed"
    assert 0 < match["score"] <= 1
    assert "pricing" in match["explanation"]
    assert match["covered_skills"] == ["pricing_monetisation"]
    records = await read_topic(
        kafka.bootstrap_servers,
        f"{namespace}{MATCH_EVENTS}",
        until=lambda rs: bool(events_of(rs, "MatchProposed")),
    )
    [proposed] = events_of(records, "MatchProposed")
    assert proposed["payload"]["match_id"] == match["id"]
    assert proposed["payload"]["mentor_id"] == str(pricing.profile_id)
    assert records[0].key == match["id"].encode()


async def test_no_proposal_without_a_shared_language_and_a_later_mentor_gets_the_waiting_mentee(
    matcher: httpx.AsyncClient, kafka: KafkaHandle, namespace: str
) -> None:
    topic = f"{namespace}{PROFILE_EVENTS}"
    german_only = mentor({"pricing_monetisation": 5}, languages=("de",))
    engineer = mentee({"pricing_monetisation": (1, 4)}, languages=("en", "fr"))
    await produce(
        kafka.bootstrap_servers, topic, [registered(german_only), registered(engineer)], key=b"k"
    )
    await eventually(
        lambda: matcher.get(f"/v1/mentees/{engineer.profile_id}/matches"),
        lambda r: r.status_code == 200,
    )
    assert await matches_of(matcher, engineer.profile_id) == []

    french = mentor({"pricing_monetisation": 3}, languages=("fr",))
    await produce(kafka.bootstrap_servers, topic, [registered(french)])

    [match] = await eventually(lambda: matches_of(matcher, engineer.profile_id), lambda m: bool(m))
    assert match["mentor_id"] == str(french.profile_id)


async def test_a_mentor_never_exceeds_capacity(
    matcher: httpx.AsyncClient, kafka: KafkaHandle, namespace: str, matching_db: str
) -> None:
    topic = f"{namespace}{PROFILE_EVENTS}"
    only_mentor = mentor({"go_to_market": 5}, capacity=2)
    engineers = [mentee({"go_to_market": (1, 4)}) for _ in range(5)]
    # Spread over partitions (keys differ), so the consumer sees them in any interleaving.
    await produce(kafka.bootstrap_servers, topic, [registered(only_mentor)])
    for engineer in engineers:
        await produce(
            kafka.bootstrap_servers,
            topic,
            [registered(engineer)],
            key=str(engineer.profile_id).encode(),
        )

    async def proposals() -> list[dict[str, Any]]:
        found = []
        for engineer in engineers:
            found += await matches_of(matcher, engineer.profile_id)
        return found

    conn = await asyncpg.connect(matching_db)
    try:
        # Wait until every event was handled, then look: none but two may have a proposal.
        await eventually(
            lambda: conn.fetchval("SELECT count(*) FROM processed_events"), lambda n: n == 6
        )
        assert len(await proposals()) == 2
        load, capacity = await conn.fetchrow(
            "SELECT load, capacity FROM mentors WHERE id = $1", only_mentor.profile_id
        )
        assert (load, capacity) == (2, 2)
        waiting = await conn.fetchval("SELECT count(*) FROM mentees")
        assert waiting == 5
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "UPDATE mentors SET load = load + 1 WHERE id = $1", only_mentor.profile_id
            )
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute(
                "INSERT INTO matches (id, mentee_id, mentor_id, status, score, score_breakdown, "
                "explanation, covered_skills, uncovered_skills, algorithm_version) "
                "SELECT gen_random_uuid(), mentee_id, mentor_id, 'proposed', 0.5, '{}', '', '{}', "
                "'{}', 'x' FROM matches LIMIT 1"
            )
    finally:
        await conn.close()


async def test_a_malformed_message_is_dead_lettered_and_the_next_one_is_processed(
    matcher: httpx.AsyncClient, kafka: KafkaHandle, namespace: str, matching_db: str
) -> None:
    topic = f"{namespace}{PROFILE_EVENTS}"
    good_mentor = mentor({"product_metrics": 5})
    engineer = mentee({"product_metrics": (1, 5)})
    unknown_version = json.loads(registered(mentee({"product_metrics": (1, 5)})))
    unknown_version["schema_version"] = 99
    invalid_payload = json.loads(registered(mentee({"product_metrics": (1, 5)})))
    invalid_payload["payload"]["profile"]["skills"] = "lots"
    # One key: one partition, so the good events queue up behind the bad ones.
    await produce(
        kafka.bootstrap_servers,
        topic,
        [
            b"{not json at all",
            json.dumps(unknown_version).encode(),
            json.dumps(invalid_payload).encode(),
            b'{"event_type": "SomethingNew", "event_id": "7b0cbb5e-4a59-4ac5-9f4e-2f5ff0b0a1a0",'
            b' "schema_version": 1, "occurred_at": "2026-01-01T00:00:00Z", "producer": "x",'
            b' "payload": {}}',
            registered(good_mentor),
            registered(engineer),
        ],
        key=b"same-partition",
    )

    [match] = await eventually(lambda: matches_of(matcher, engineer.profile_id), lambda m: bool(m))
    assert match["mentor_id"] == str(good_mentor.profile_id)

    dead = await read_topic(
        kafka.bootstrap_servers,
        f"{namespace}{dead_letter_topic(PROFILE_EVENTS)}",
        until=lambda rs: len(rs) >= 3,
    )
    reasons = sorted(dict(r.headers)["dlq-reason"].decode() for r in dead)
    assert reasons == ["invalid_payload", "malformed_envelope", "unsupported_schema_version"]
    assert dead[0].value == b"{not json at all" or b"{not json at all" in [r.value for r in dead]
    conn = await asyncpg.connect(matching_db)
    try:
        outcomes = await conn.fetch(
            "SELECT outcome, count(*) FROM processed_events GROUP BY outcome"
        )
    finally:
        await conn.close()
    assert {r["outcome"]: r["count"] for r in outcomes} == {"dead_lettered": 3, "handled": 2}


async def test_a_redelivered_event_changes_nothing(
    matcher: httpx.AsyncClient, kafka: KafkaHandle, namespace: str, matching_db: str
) -> None:
    topic = f"{namespace}{PROFILE_EVENTS}"
    the_mentor = mentor({"roadmap_prioritisation": 5}, capacity=5)
    engineer = mentee({"roadmap_prioritisation": (2, 5)})
    mentee_event = registered(engineer)
    # One key: one partition, so the marker is handled after the redeliveries.
    await produce(kafka.bootstrap_servers, topic, [registered(the_mentor), mentee_event], key=b"k")
    await eventually(lambda: matches_of(matcher, engineer.profile_id), lambda m: bool(m))

    marker = mentee({"roadmap_prioritisation": (2, 5)})
    await produce(
        kafka.bootstrap_servers, topic, [mentee_event, mentee_event, registered(marker)], key=b"k"
    )
    await eventually(lambda: matches_of(matcher, marker.profile_id), lambda m: bool(m))

    assert len(await matches_of(matcher, engineer.profile_id)) == 1
    conn = await asyncpg.connect(matching_db)
    try:
        assert (
            await conn.fetchval("SELECT load FROM mentors WHERE id = $1", the_mentor.profile_id)
            == 2
        )
        assert (
            await conn.fetchval("SELECT count(*) FROM outbox WHERE event_type = 'MatchProposed'")
            == 2
        )
    finally:
        await conn.close()


async def proposed_pair(
    matcher: httpx.AsyncClient, kafka: KafkaHandle, namespace: str
) -> tuple[dict[str, Any], Any, Any]:
    """A mentor and a mentee registered through the broker, and the proposal between them."""
    topic = f"{namespace}{PROFILE_EVENTS}"
    the_mentor = mentor({"customer_insight": 5, "product_strategy": 4}, capacity=1)
    engineer = mentee({"customer_insight": (1, 4), "product_strategy": (2, 4)})
    await produce(kafka.bootstrap_servers, topic, [registered(the_mentor)])
    await eventually(
        lambda: matcher.get(f"/v1/mentors/{the_mentor.profile_id}"),
        lambda response: response.status_code == 200,
    )
    await produce(kafka.bootstrap_servers, topic, [registered(engineer)])
    [match] = await eventually(lambda: matches_of(matcher, engineer.profile_id), lambda m: bool(m))
    return match, engineer, the_mentor


async def test_both_sides_accept_over_http_and_the_acceptance_is_published_once(
    matcher: httpx.AsyncClient, kafka: KafkaHandle, namespace: str
) -> None:
    match, _, the_mentor = await proposed_pair(matcher, kafka, namespace)
    assert match["accepted_by"] == []
    assert match["weights_version"]
    assert set(match["score_breakdown"]) >= {"similarity", "coverage", "scarcity", "timezone"}

    first = await matcher.post(f"/v1/matches/{match['id']}/accept", json={"party": "mentee"})
    assert first.status_code == 200, first.text
    assert (first.json()["status"], first.json()["accepted_by"]) == ("proposed", ["mentee"])
    for _ in range(2):  # accepting twice is harmless
        second = await matcher.post(f"/v1/matches/{match['id']}/accept", json={"party": "mentor"})
        assert second.status_code == 200, second.text
    accepted = (await matcher.get(f"/v1/matches/{match['id']}")).json()
    assert accepted["status"] == "accepted"
    assert accepted["accepted_at"] is not None
    assert sorted(accepted["accepted_by"]) == ["mentee", "mentor"]

    records = await read_topic(
        kafka.bootstrap_servers,
        f"{namespace}{MATCH_EVENTS}",
        until=lambda rs: bool(events_of(rs, "MatchAccepted")),
    )
    [event] = events_of(records, "MatchAccepted")
    assert event["payload"]["match_id"] == match["id"]
    assert event["payload"]["mentor_id"] == str(the_mentor.profile_id)
    slots = (await matcher.get(f"/v1/mentors/{the_mentor.profile_id}")).json()
    assert (slots["open_matches"], slots["free_slots"]) == (1, 0)


async def test_an_answer_with_bad_input_is_refused_by_field_and_changes_nothing(
    matcher: httpx.AsyncClient, kafka: KafkaHandle, namespace: str
) -> None:
    match, engineer, _ = await proposed_pair(matcher, kafka, namespace)
    url = f"/v1/matches/{match['id']}"
    cases = [
        ("accept", {"party": "boss"}, "party"),
        ("accept", {}, "party"),
        ("accept", {"party": "mentee", "status": "accepted"}, "status"),
        ("decline", {"party": "mentor", "reason": "x" * 501}, "reason"),
    ]
    for verb, body, field in cases:
        response = await matcher.post(f"{url}/{verb}", json=body)
        assert response.status_code == 422, (body, response.text)
        assert field in [error["field"] for error in response.json()["fields"]], response.json()
    response = await matcher.post(
        f"/v1/mentees/{engineer.profile_id}/requests", json={"mentor_id": "not-a-uuid"}
    )
    assert response.status_code == 422
    assert [error["field"] for error in response.json()["fields"]] == ["mentor_id"]
    unchanged = (await matcher.get(url)).json()
    assert (unchanged["status"], unchanged["accepted_by"]) == ("proposed", [])

    unknown = await matcher.post(
        "/v1/matches/00000000-0000-4000-8000-000000000000/accept", json={"party": "mentee"}
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "match_not_found"
    too_few = await matcher.get(f"/v1/mentees/{engineer.profile_id}/suggestions?limit=0")
    assert too_few.status_code == 422


async def test_a_declined_proposal_cannot_be_accepted_and_the_mentee_sees_the_mentor_no_more(
    matcher: httpx.AsyncClient, kafka: KafkaHandle, namespace: str
) -> None:
    match, engineer, the_mentor = await proposed_pair(matcher, kafka, namespace)
    declined = await matcher.post(
        f"/v1/matches/{match['id']}/decline", json={"party": "mentor", "reason": "Fully booked"}
    )
    assert declined.status_code == 200, declined.text
    assert declined.json()["end_reason"] == "declined_by_mentor"
    late = await matcher.post(f"/v1/matches/{match['id']}/accept", json={"party": "mentee"})
    assert late.status_code == 409
    assert late.json()["error"] == "match_closed"
    suggestions = await matcher.get(f"/v1/mentees/{engineer.profile_id}/suggestions")
    assert suggestions.status_code == 200
    assert str(the_mentor.profile_id) not in [
        s["mentor_id"] for s in suggestions.json()["suggestions"]
    ]
    again = await matcher.post(
        f"/v1/mentees/{engineer.profile_id}/requests",
        json={"mentor_id": str(the_mentor.profile_id)},
    )
    assert again.status_code == 409
    assert again.json()["error"] == "mentor_unavailable"


async def test_rounds_need_the_operator_key(matcher: httpx.AsyncClient) -> None:
    assert (await matcher.post("/v1/rounds", headers={"Authorization": ""})).status_code == 401
    wrong = await matcher.post("/v1/rounds", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 403
    right = await matcher.post("/v1/rounds", headers={"Authorization": f"Bearer {OPERATOR_KEY}"})
    assert right.status_code == 201, right.text
    report = right.json()
    assert report["mentees_waiting"] == 0
    fetched = await matcher.get(
        right.headers["Location"], headers={"Authorization": f"Bearer {OPERATOR_KEY}"}
    )
    assert fetched.json() == report


async def test_page_sizes_above_the_maximum_are_clamped_not_refused(
    matcher: httpx.AsyncClient, kafka: KafkaHandle, namespace: str, matching_db: str
) -> None:
    topic = f"{namespace}{PROFILE_EVENTS}"
    mentors = [mentor({"pricing_monetisation": 5}, capacity=3) for _ in range(30)]
    engineer = mentee({"pricing_monetisation": (1, 4)})
    await produce(kafka.bootstrap_servers, topic, [registered(m) for m in mentors])

    async def mentors_known() -> int:
        conn = await asyncpg.connect(matching_db)
        try:
            known: int = await conn.fetchval("SELECT count(*) FROM mentors")
        finally:
            await conn.close()
        return known

    await eventually(mentors_known, lambda known: known == len(mentors))
    await produce(kafka.bootstrap_servers, topic, [registered(engineer)])
    await eventually(lambda: matches_of(matcher, engineer.profile_id), lambda m: bool(m))
    # More closed matches of the mentee than the largest page.
    conn = await asyncpg.connect(matching_db)
    try:
        await conn.execute(
            """
            INSERT INTO matches (id, mentee_id, mentor_id, status, score, score_breakdown,
                                 explanation, covered_skills, uncovered_skills,
                                 algorithm_version, proposed_at, ended_at, end_reason)
            SELECT gen_random_uuid(), $1, gen_random_uuid(), 'expired', 0.5, '{}', 'old',
                   '{}', '{}', 'skill-gap-v1', now() - n * interval '1 minute', now(), 'timeout'
            FROM generate_series(1, 120) AS n
            """,
            engineer.profile_id,
        )
    finally:
        await conn.close()
    url = f"/v1/mentees/{engineer.profile_id}"

    default_page = await matcher.get(f"{url}/matches")
    largest = await matcher.get(f"{url}/matches?limit=100")
    clamped = await matcher.get(f"{url}/matches?limit=100000")
    suggestions = await matcher.get(f"{url}/suggestions?limit=20")
    clamped_suggestions = await matcher.get(f"{url}/suggestions?limit=100000")

    for response in (default_page, largest, clamped, suggestions, clamped_suggestions):
        assert response.status_code == 200, response.text
    assert len(default_page.json()["matches"]) == 20
    assert len(largest.json()["matches"]) == 100
    assert clamped.json() == largest.json()
    assert len(suggestions.json()["suggestions"]) == 20
    assert [s["mentor_id"] for s in clamped_suggestions.json()["suggestions"]] == [
        s["mentor_id"] for s in suggestions.json()["suggestions"]
    ]


# --- /metrics -----------------------------------------------------------------------------

MetricSamples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: httpx.AsyncClient) -> MetricSamples:
    """Every sample of `GET /metrics`, by name and sorted labels."""
    from prometheus_client.parser import text_string_to_metric_families

    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def sample(samples: MetricSamples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_metrics_show_events_proposals_scores_lag_and_dead_letters(
    matcher: httpx.AsyncClient, kafka: KafkaHandle, namespace: str
) -> None:
    before = await scrape(matcher)
    await proposed_pair(matcher, kafka, namespace)
    await produce(kafka.bootstrap_servers, f"{namespace}{PROFILE_EVENTS}", [b"not an envelope"])

    def grew(samples: MetricSamples, name: str, **labels: str) -> bool:
        return sample(samples, name, **labels) > sample(before, name, **labels)

    def lag(samples: MetricSamples) -> dict[str, float]:
        return {
            dict(labels)["partition"]: value
            for (name, labels), value in samples.items()
            if name == "mentorship_consumer_lag"
            and dict(labels)["service"] == "matching"
            and dict(labels)["topic"] == f"{namespace}{PROFILE_EVENTS}"
        }

    consumed = {"consumer": "profile-events", "topic": PROFILE_EVENTS, "outcome": "handled"}
    after = await eventually(
        lambda: scrape(matcher),
        lambda s: (
            grew(
                s,
                "mentorship_dead_letters_total",
                consumer="profile-events",
                topic=PROFILE_EVENTS,
                reason="malformed_envelope",
            )
            and grew(
                s,
                "mentorship_events_published_total",
                topic=MATCH_EVENTS,
                event_type="MatchProposed",
            )
            and grew(
                s,
                "mentorship_events_published_total",
                topic=dead_letter_topic(PROFILE_EVENTS),
                event_type="unknown",
            )
            and sample(s, "mentorship_outbox_pending", service="matching") == 0
            and bool(lag(s))
            and sum(lag(s).values()) == 0
        ),
    )

    assert grew(
        after, "mentorship_events_consumed_total", event_type="MenteeRegistered", **consumed
    )
    assert grew(
        after, "mentorship_events_consumed_total", event_type="MentorRegistered", **consumed
    )
    assert grew(
        after,
        "mentorship_event_handler_seconds_count",
        consumer="profile-events",
        event_type="MenteeRegistered",
    )
    assert grew(after, "mentorship_match_transitions_total", status="proposed")
    assert grew(after, "mentorship_match_score_count", origin="online")
    assert grew(after, "mentorship_match_score_bucket", origin="online", le="1.0")
    # The gauge is read from this matcher's own database at the scrape.
    assert sample(after, "mentorship_matches", status="proposed") == 1
    assert sample(after, "mentorship_matches", status="accepted") == 0
    assert ("mentorship_matches", (("status", "expired"),)) in after
    assert set(lag(after)) == {str(partition) for partition in range(6)}


async def test_a_record_labelled_json_that_is_not_json_is_dead_lettered_too(
    matcher: httpx.AsyncClient, kafka: KafkaHandle, namespace: str, matching_db: str
) -> None:
    topic = f"{namespace}{PROFILE_EVENTS}"
    good_mentor = mentor({"product_metrics": 5})
    await produce(
        kafka.bootstrap_servers,
        topic,
        [b'{"event_type": "MenteeRegistered", "payl', registered(good_mentor)],
        key=b"one-partition",
        headers=[("content-type", b"application/json")],
    )
    await eventually(
        lambda: matcher.get(f"/v1/mentors/{good_mentor.profile_id}"),
        lambda response: response.status_code == 200,
    )
    dead = await read_topic(
        kafka.bootstrap_servers,
        f"{namespace}{dead_letter_topic(PROFILE_EVENTS)}",
        until=lambda rs: len(rs) >= 1,
    )
    assert [dict(r.headers)["dlq-reason"] for r in dead] == [b"malformed_envelope"]
    assert dead[0].value.startswith(b'{"event_type": "MenteeRegistered", "payl')
