"""How the consumer sorts incoming records before any database work: handled, ignored, or
poison for the dead-letter topic."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from mentorship_shared.contracts.envelope import EventEnvelope
from mentorship_shared.contracts.events import (
    MenteeProfile,
    MenteeRegistered,
    MenteeSkill,
    ProfileDeleted,
)
from mentorship_shared.contracts.topics import PROFILE_EVENTS
from mentorship_shared.plumbing.consumer import EventConsumer
from mentorship_shared.plumbing.dead_letters import PoisonMessage, content_id
from mentorship_shared.plumbing.inbox import Delivery
from mentorship_shared.plumbing.unit_of_work import Transaction


async def _ignore(tx: Transaction[Any], envelope: EventEnvelope, payload: Any) -> None:
    raise AssertionError("no handler runs in these tests")


def consumer() -> EventConsumer:
    c = EventConsumer("unit-profiles", PROFILE_EVENTS)
    c.on(MenteeRegistered)(_ignore)
    c.on(ProfileDeleted)(_ignore)
    return c


def delivery(value: bytes, **headers: str) -> Delivery:
    return Delivery(
        topic=PROFILE_EVENTS, partition=0, offset=7, key=b"k", value=value, headers=headers
    )


def registered_payload() -> MenteeRegistered:
    return MenteeRegistered(
        profile=MenteeProfile(
            profile_id=uuid.uuid4(),
            version=1,
            name="Ada",
            email="ada@example.com",
            timezone="Europe/Berlin",
            languages=["en"],
            skills=[MenteeSkill(skill="pricing_monetisation", current=1, target=3)],
        )
    )


def wire(**overrides: Any) -> bytes:
    data = json.loads(EventEnvelope.wrap(registered_payload(), producer="profile").to_json())
    data.update(overrides)
    return json.dumps(data).encode()


def poison_reason(value: bytes) -> str:
    with pytest.raises(PoisonMessage) as caught:
        consumer()._parse(delivery(value))
    assert caught.value.detail  # the dead letter says what was wrong
    return caught.value.reason


def test_valid_event_parses_into_its_payload_model() -> None:
    payload = registered_payload()
    envelope = EventEnvelope.wrap(payload, producer="profile")
    parsed, registration, parsed_payload = consumer()._parse(delivery(envelope.to_json()))
    assert parsed == envelope
    assert registration is not None
    assert registration.model is MenteeRegistered
    assert parsed_payload == payload


@pytest.mark.parametrize(
    "value",
    [b"{not json", b"", b"\xff\xfe\x00", b"[1, 2]", b"null", b'{"event_type": "X"}'],
)
def test_malformed_envelope_is_poison(value: bytes) -> None:
    assert poison_reason(value) == "malformed_envelope"


def test_newer_schema_version_is_poison() -> None:
    assert poison_reason(wire(schema_version=2)) == "unsupported_schema_version"


def test_older_schema_version_is_read() -> None:
    # Payloads only grow, so a version this consumer knows is parsed as usual.
    _, registration, payload = consumer()._parse(delivery(wire(schema_version=1)))
    assert registration is not None
    assert isinstance(payload, MenteeRegistered)


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"profile": {"profile_id": "nope"}},
        {"profile": "Ada"},
    ],
)
def test_invalid_payload_is_poison(payload: dict[str, Any]) -> None:
    assert poison_reason(wire(payload=payload)) == "invalid_payload"


def test_payload_of_another_event_type_is_invalid() -> None:
    deleted = {"profile_id": str(uuid.uuid4()), "kind": "mentee", "version": 2}
    assert poison_reason(wire(payload=deleted)) == "invalid_payload"


def test_unknown_event_type_is_not_registered() -> None:
    envelope, registration, payload = consumer()._parse(delivery(wire(event_type="MatchProposed")))
    assert envelope.event_type == "MatchProposed"
    assert registration is None
    assert payload is None


def test_unknown_event_type_with_a_newer_schema_is_still_just_ignored() -> None:
    _, registration, _ = consumer()._parse(delivery(wire(event_type="Other", schema_version=9)))
    assert registration is None


async def test_process_acknowledges_unknown_event_types_without_a_database() -> None:
    # Not bound to a pool: ignoring an event must not need one.
    outcome = await consumer().process(delivery(wire(event_type="SomethingNewHappened")))
    assert outcome == "ignored"


def test_registering_two_handlers_for_one_event_type_raises() -> None:
    c = consumer()
    with pytest.raises(ValueError, match="MenteeRegistered"):
        c.on(MenteeRegistered)(_ignore)
    assert c.event_types == ["MenteeRegistered", "ProfileDeleted"]


def test_dead_letter_id_is_the_event_id_when_readable_and_stable_otherwise() -> None:
    event_id = uuid.uuid4()
    readable = delivery(wire(event_id=str(event_id), payload={}))
    assert content_id(readable) == event_id
    garbage = delivery(b"{not json")
    assert content_id(garbage) == content_id(delivery(b"{not json"))
    assert content_id(garbage) != content_id(delivery(b"{other garbage"))
