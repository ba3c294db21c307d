"""The contracts between services: envelope, event payloads, topics and the skill taxonomy."""

from __future__ import annotations

import json
import re
import types
import typing
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mentorship_shared.contracts import topics
from mentorship_shared.contracts.envelope import EventEnvelope, EventPayload
from mentorship_shared.contracts.events import (
    EVENT_TYPES,
    CheckInCadenceChanged,
    CheckInLogged,
    CheckInMissed,
    CheckInReminderIssued,
    CompletionProposed,
    FeedbackGiven,
    FeedbackRequested,
    GoalAchieved,
    GoalAgreed,
    GoalProposed,
    LearningGap,
    LearningPlanIssued,
    MatchAccepted,
    MatchConcluded,
    MatchDeclined,
    MatchExpired,
    MatchProposed,
    MenteeProfile,
    MenteeRegistered,
    MenteeSkill,
    MentorProfile,
    MentorRegistered,
    MentorshipEnded,
    MentorshipOutcomeRecorded,
    MentorshipStarted,
    MentorSkill,
    NotificationFailed,
    NotificationSent,
    ProfileDeleted,
    ProfileUpdated,
    SideFeedback,
    SignInLinkRequested,
    SkillProgress,
    SkillsReassessed,
    SuggestedResource,
)
from mentorship_shared.contracts.languages import ISO_639_1
from mentorship_shared.contracts.skills import SKILL_IDS, TAXONOMY, load_taxonomy
from pydantic import BaseModel, ValidationError

NOW = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)


def a_mentee_profile() -> MenteeProfile:
    return MenteeProfile(
        profile_id=uuid.uuid4(),
        version=3,
        name="Ada",
        email="ada@example.com",
        timezone="Europe/Berlin",
        languages=["en", "de"],
        skills=[MenteeSkill(skill="pricing_monetisation", current=1, target=4)],
        goals="Own a roadmap.",
    )


def a_mentor_profile() -> MentorProfile:
    return MentorProfile(
        profile_id=uuid.uuid4(),
        version=1,
        name="Grace",
        email="grace@example.com",
        timezone="America/New_York",
        languages=["en"],
        skills=[MentorSkill(skill="pricing_monetisation", level=5)],
        capacity=2,
        was_engineer=True,
    )


def samples() -> dict[str, EventPayload]:
    """One instance of every event type, by event type."""
    outcome = {
        "notification_id": uuid.uuid4(),
        "source_event_id": uuid.uuid4(),
        "source_event_type": "MatchProposed",
        "recipient_id": uuid.uuid4(),
        "recipient_role": "mentee",
        "channel": "email",
    }
    pair = {"match_id": uuid.uuid4(), "mentee_id": uuid.uuid4(), "mentor_id": uuid.uuid4()}
    mentorship = {"mentorship_id": uuid.uuid4(), **pair}
    goal = {"goal_id": uuid.uuid4(), "skill": "pricing_monetisation"}
    progress = SkillProgress(
        skill="pricing_monetisation",
        start=1,
        target=4,
        current=3,
        levels_closed=2,
        gap_closed=2 / 3,
    )
    payloads: list[EventPayload] = [
        MenteeRegistered(profile=a_mentee_profile()),
        MentorRegistered(profile=a_mentor_profile()),
        ProfileUpdated(profile=a_mentor_profile(), changed_fields=["capacity"]),
        ProfileDeleted(profile_id=uuid.uuid4(), kind="mentee", version=4),
        SignInLinkRequested(
            profile_id=uuid.uuid4(), kind="mentor", link_token="secret", expires_at=NOW
        ),
        MatchProposed(
            match_id=uuid.uuid4(),
            mentee_id=uuid.uuid4(),
            mentor_id=uuid.uuid4(),
            score=0.75,
            score_breakdown={"similarity": 0.7, "coverage": 0.85},
            explanation="Covers your gap in pricing.",
            covered_skills=["pricing_monetisation"],
            uncovered_skills=[],
            algorithm_version="skill-gap-v1",
            expires_at=NOW,
        ),
        MatchAccepted(**pair, accepted_at=NOW),
        MatchDeclined(**pair, declined_by="mentor", reason="Fully booked this quarter."),
        MatchExpired(**pair, reason="timeout"),
        MatchConcluded(**pair, mentorship_id=uuid.uuid4(), ending="completed", concluded_at=NOW),
        LearningPlanIssued(
            mentee_id=uuid.uuid4(),
            plan_version=2,
            resources_version=1,
            gaps=[
                LearningGap(
                    skill="pricing_monetisation",
                    current=1,
                    target=4,
                    resources=[
                        SuggestedResource(
                            id="book-monetizing-innovation",
                            kind="book",
                            title="Monetizing Innovation",
                            by="Madhavan Ramanujam and Georg Tacke",
                            summary="Price before you build.",
                        )
                    ],
                )
            ],
        ),
        NotificationSent(**outcome, message_id="<x@mentorship.test>", sent_at=NOW),
        NotificationFailed(**outcome, error="SMTPServerDisconnected()", attempts=5),
        MentorshipStarted(
            **mentorship, started_at=NOW, cadence_weeks=2, next_check_in_due=NOW + timedelta(14)
        ),
        GoalProposed(**mentorship, **goal, title="Price one feature", milestones=2),
        GoalAgreed(**mentorship, **goal, title="Price one feature", agreed_at=NOW),
        GoalAchieved(**mentorship, **goal, achieved_by="mentor", achieved_at=NOW),
        CheckInCadenceChanged(
            **mentorship, cadence_weeks=4, changed_by="mentee", next_check_in_due=NOW
        ),
        CheckInReminderIssued(**mentorship, check_in_number=1, due_at=NOW),
        CheckInMissed(**mentorship, check_in_number=2, due_at=NOW, lapses_at=NOW),
        CheckInLogged(
            **mentorship,
            check_in_number=1,
            logged_by="mentee",
            logged_at=NOW,
            next_check_in_due=NOW,
        ),
        FeedbackRequested(**mentorship, round="closing", respond_by=NOW),
        FeedbackGiven(
            **mentorship,
            given_by="mentor",
            round="first_check_in",
            csat=4,
            nps=9,
            has_comment=True,
            comment_shared=False,
        ),
        SkillsReassessed(
            **mentorship,
            assessed_at=NOW,
            assessed_skills=["pricing_monetisation"],
            skills=[progress],
            gap_closed_overall=2 / 3,
        ),
        CompletionProposed(**mentorship, proposed_by="mentee", proposed_at=NOW),
        MentorshipEnded(
            **mentorship,
            ending="lapsed",
            cause="no_check_in",
            ended_by=None,
            ended_at=NOW,
            feedback_due_by=NOW,
        ),
        MentorshipOutcomeRecorded(
            **mentorship,
            ending="completed",
            completed=True,
            started_at=NOW,
            ended_at=NOW,
            mentee_feedback=SideFeedback(round="closing", csat=5, nps=10),
            mentor_feedback=None,
            skills=[progress],
            gap_closed_overall=2 / 3,
            check_ins=4,
            goals_agreed=2,
            goals_achieved=2,
        ),
    ]
    return {p.event_type: p for p in payloads}


# --- envelope --------------------------------------------------------------------------------


def test_every_event_type_has_a_sample_here() -> None:
    assert set(samples()) == set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_envelope_json_round_trip_keeps_envelope_and_payload(event_type: str) -> None:
    payload = samples()[event_type]
    envelope = EventEnvelope.wrap(payload, producer="unit-test")

    wire = envelope.to_json()
    assert isinstance(wire, bytes)
    back = EventEnvelope.from_json(wire)

    assert back == envelope
    assert EventEnvelope.from_json(wire.decode()) == envelope
    assert EVENT_TYPES[back.event_type].model_validate(back.payload) == payload


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_wrap_takes_type_and_version_from_the_payload_class(event_type: str) -> None:
    payload = samples()[event_type]
    envelope = EventEnvelope.wrap(payload, producer="matching")
    assert envelope.event_type == type(payload).event_type == event_type
    assert envelope.schema_version == type(payload).schema_version
    assert envelope.producer == "matching"
    assert envelope.occurred_at.tzinfo is not None
    # The aggregate id is the Kafka key: a string that names one aggregate.
    assert uuid.UUID(payload.aggregate_id())


def test_wrap_keeps_a_given_id_and_time_and_draws_fresh_ones_otherwise() -> None:
    payload = samples()["ProfileDeleted"]
    event_id = uuid.uuid4()
    fixed = EventEnvelope.wrap(payload, producer="p", event_id=event_id, occurred_at=NOW)
    assert (fixed.event_id, fixed.occurred_at) == (event_id, NOW)
    first = EventEnvelope.wrap(payload, producer="p")
    second = EventEnvelope.wrap(payload, producer="p")
    assert first.event_id != second.event_id


def test_aggregate_id_keeps_one_profiles_events_on_one_key() -> None:
    profile = a_mentee_profile()
    keys = {
        MenteeRegistered(profile=profile).aggregate_id(),
        ProfileUpdated(profile=profile, changed_fields=["name"]).aggregate_id(),
        ProfileDeleted(profile_id=profile.profile_id, kind="mentee", version=9).aggregate_id(),
    }
    assert keys == {str(profile.profile_id)}


def test_unknown_fields_are_ignored_so_changes_can_be_additive() -> None:
    payload = samples()["ProfileDeleted"]
    envelope = EventEnvelope.wrap(payload, producer="profile")
    data = json.loads(envelope.to_json())
    data["trace_id"] = "abc"  # a newer envelope field
    data["payload"]["reason"] = "user asked"  # a newer payload field
    back = EventEnvelope.from_json(json.dumps(data))
    assert back.event_id == envelope.event_id
    assert "trace_id" not in back.model_dump()
    assert ProfileDeleted.model_validate(back.payload) == payload


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("occurred_at", "2025-03-01T12:00:00"),  # naive: no timezone
        ("schema_version", 0),
        ("event_type", ""),
        ("producer", ""),
        ("event_id", "not-a-uuid"),
    ],
)
def test_envelope_rejects_invalid_metadata(field: str, value: object) -> None:
    data = json.loads(EventEnvelope.wrap(samples()["ProfileDeleted"], producer="p").to_json())
    data[field] = value
    with pytest.raises(ValidationError):
        EventEnvelope.from_json(json.dumps(data))


offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@settings(max_examples=100, deadline=None)
@given(
    producer=st.text(min_size=1, max_size=30),
    occurred_at=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets
    ),
    event_id=st.uuids(),
    score=st.floats(0.0, 1.0),
    explanation=st.text(max_size=200),
)
def test_envelope_round_trip_property(
    producer: str, occurred_at: datetime, event_id: uuid.UUID, score: float, explanation: str
) -> None:
    base = samples()["MatchProposed"]
    payload = base.model_copy(update={"score": score, "explanation": explanation})
    envelope = EventEnvelope.wrap(
        payload, producer=producer, event_id=event_id, occurred_at=occurred_at
    )
    back = EventEnvelope.from_json(envelope.to_json())
    assert back == envelope
    assert back.occurred_at == occurred_at
    assert MatchProposed.model_validate(back.payload) == payload


# --- event classes ---------------------------------------------------------------------------

# Past participles that do not end in "-ed".
IRREGULAR_PARTICIPLES = {"Sent", "Made", "Paid", "Held", "Met", "Done", "Taken", "Given", "Won"}


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_event_names_are_past_tense(event_type: str) -> None:
    model = EVENT_TYPES[event_type]
    assert model.event_type == event_type
    words = re.findall(r"[A-Z][a-z]*", event_type)
    assert "".join(words) == event_type, "event types are CamelCase words"
    assert len(words) >= 2, "an event names its subject and what happened to it"
    last = words[-1]
    assert last.endswith("ed") or last in IRREGULAR_PARTICIPLES, (
        f"{event_type} does not end in a past participle"
    )


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_events_go_to_a_known_topic(event_type: str) -> None:
    topic = EVENT_TYPES[event_type].topic
    assert topic in {
        topics.PROFILE_EVENTS,
        topics.MATCH_EVENTS,
        topics.NOTIFICATION_EVENTS,
        topics.MENTORSHIP_EVENTS,
    }
    assert topic in topics.TOPIC_PARTITIONS
    assert topics.dead_letter_topic(topic) in topics.TOPIC_PARTITIONS


def _nested_models(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for argument in typing.get_args(annotation):
        found += _nested_models(argument)
    return found


def _undescribed_fields(model: type[BaseModel], seen: set[type[BaseModel]]) -> list[str]:
    if model in seen:
        return []
    seen.add(model)
    missing = []
    for name, info in model.model_fields.items():
        if not (info.description or "").strip():
            missing.append(f"{model.__name__}.{name}")
        for nested in _nested_models(info.annotation):
            missing += _undescribed_fields(nested, seen)
    return missing


def test_nested_model_walk_finds_union_and_list_members() -> None:
    # The walker below must see through `X | Y` and `list[X]`, or it would check too little.
    found = _nested_models(ProfileUpdated.model_fields["profile"].annotation)
    assert set(found) == {MenteeProfile, MentorProfile}
    assert _nested_models(MenteeProfile.model_fields["skills"].annotation) == [MenteeSkill]
    assert _nested_models(list[int] | None) == []
    assert isinstance(int | None, types.UnionType)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_field_has_a_description_recursively(event_type: str) -> None:
    assert _undescribed_fields(EVENT_TYPES[event_type], set()) == []


def test_envelope_fields_have_descriptions() -> None:
    assert _undescribed_fields(EventEnvelope, set()) == []


# --- topics ----------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(namespace=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-", max_size=20))
def test_topic_partitions_prefixes_every_topic(namespace: str) -> None:
    namespaced = topics.topic_partitions(namespace)
    assert len(namespaced) == len(topics.TOPIC_PARTITIONS)
    for name, count in topics.TOPIC_PARTITIONS.items():
        assert namespaced[namespace + name] == count
    assert all(name.startswith(namespace) for name in namespaced)


def test_no_namespace_means_the_plain_topic_names() -> None:
    assert topics.topic_partitions() == topics.TOPIC_PARTITIONS
    assert (
        topics.topic_partitions("t1.")["t1.profile.events"]
        == topics.TOPIC_PARTITIONS[topics.PROFILE_EVENTS]
    )


def test_every_partition_count_is_positive_and_dead_letters_follow_topics() -> None:
    assert all(count >= 1 for count in topics.TOPIC_PARTITIONS.values())
    for topic in (topics.PROFILE_EVENTS, topics.MATCH_EVENTS, topics.NOTIFICATION_EVENTS):
        dlq = topics.dead_letter_topic(topic)
        assert dlq != topic
        assert dlq.startswith(topic)


# --- taxonomy and languages ------------------------------------------------------------------


def test_taxonomy_has_twelve_to_sixteen_distinct_described_skills() -> None:
    skills = TAXONOMY.skills
    assert 12 <= len(skills) <= 16
    assert len({s.id for s in skills}) == len(skills)
    assert len({s.short_name for s in skills}) == len(skills)
    for skill in skills:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", skill.id), skill.id
        assert skill.name.strip()
        assert skill.short_name.strip()
        assert len(skill.description.strip()) >= 20


def test_taxonomy_lookup() -> None:
    assert TAXONOMY.ids == SKILL_IDS
    assert "pricing_monetisation" in TAXONOMY
    assert "juggling" not in TAXONOMY
    assert TAXONOMY.by_id("pricing_monetisation").short_name == "pricing"
    with pytest.raises(KeyError):
        TAXONOMY.by_id("juggling")


def test_taxonomy_covers_every_group() -> None:
    assert {s.group for s in TAXONOMY.skills} == {"bring", "build", "career"}


def test_loading_the_current_version_again_gives_the_same_taxonomy() -> None:
    assert load_taxonomy(TAXONOMY.version) == TAXONOMY


def test_missing_taxonomy_version_fails_loudly() -> None:
    with pytest.raises(FileNotFoundError):
        load_taxonomy(TAXONOMY.version + 1000)


def test_language_codes_are_two_lowercase_letters() -> None:
    assert {"en", "de", "fr", "es", "zh"} <= ISO_639_1
    assert all(re.fullmatch(r"[a-z]{2}", code) for code in ISO_639_1)
    assert "eng" not in ISO_639_1
