"""The OpenAPI and AsyncAPI documents in docs/api/: current, and saying what each service
consumes and publishes, with the payload schemas."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import pytest
from mentorship_shared.contracts.events import EVENT_TYPES
from mentorship_shared.contracts.topics import (
    MATCH_EVENTS,
    MENTORSHIP_EVENTS,
    NOTIFICATION_EVENTS,
    PROFILE_EVENTS,
)

from tools import gen_docs

PROFILE_TYPES = {"MenteeRegistered", "MentorRegistered", "ProfileUpdated", "ProfileDeleted"}
MATCH_TYPES = {"MatchProposed", "MatchAccepted", "MatchDeclined", "MatchExpired"}
NOTIFICATION_TYPES = {"NotificationSent", "NotificationFailed"}
MENTORSHIP_TYPES = {
    "MentorshipStarted",
    "GoalProposed",
    "GoalAgreed",
    "GoalAchieved",
    "CheckInCadenceChanged",
    "CheckInReminderIssued",
    "CheckInMissed",
    "CheckInLogged",
    "FeedbackRequested",
    "FeedbackGiven",
    "SkillsReassessed",
    "CompletionProposed",
    "MentorshipEnded",
    "MentorshipOutcomeRecorded",
}

#: Per service: topic -> the event types on it, for what it consumes and what it publishes
#: (None: the raw messages of a dead-letter topic).
CONSUMES: dict[str, dict[str, set[str]]] = {
    "profile": {},
    "matching": {PROFILE_EVENTS: PROFILE_TYPES},
    "notification": {
        PROFILE_EVENTS: PROFILE_TYPES,
        MATCH_EVENTS: MATCH_TYPES,
        MENTORSHIP_EVENTS: {
            "MentorshipStarted",
            "CheckInReminderIssued",
            "CheckInMissed",
            "FeedbackRequested",
            "MentorshipEnded",
        },
    },
    "mentorship": {MATCH_EVENTS: {"MatchAccepted"}, PROFILE_EVENTS: PROFILE_TYPES},
}
PUBLISHES: dict[str, dict[str, set[str] | None]] = {
    "profile": {PROFILE_EVENTS: PROFILE_TYPES},
    "matching": {MATCH_EVENTS: MATCH_TYPES, f"{PROFILE_EVENTS}.dlq": None},
    "notification": {
        NOTIFICATION_EVENTS: NOTIFICATION_TYPES,
        f"{PROFILE_EVENTS}.dlq": None,
        f"{MATCH_EVENTS}.dlq": None,
        f"{MENTORSHIP_EVENTS}.dlq": None,
    },
    "mentorship": {
        MENTORSHIP_EVENTS: MENTORSHIP_TYPES,
        f"{PROFILE_EVENTS}.dlq": None,
        f"{MATCH_EVENTS}.dlq": None,
    },
}


@pytest.fixture(scope="module")
def generated() -> dict[str, str]:
    return gen_docs.documents()


def asyncapi(generated: dict[str, str], service: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(generated[f"{service}.asyncapi.json"])
    return document


def resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def operations(document: dict[str, Any], action: str) -> dict[str, list[dict[str, Any]]]:
    """Topic -> the payload schemas of the messages of the operations doing `action`."""
    found: dict[str, list[dict[str, Any]]] = {}
    for operation in document["operations"].values():
        if operation["action"] != action:
            continue
        channel = resolve(document, operation["channel"])
        payloads = found.setdefault(channel["address"], [])
        for message in operation["messages"]:
            payloads.append(resolve(document, resolve(document, message)["payload"]))
    return found


def event_types_of(document: dict[str, Any], payload: dict[str, Any]) -> set[str]:
    """The event types a message payload carries: the envelopes it is one of."""
    envelopes = [resolve(document, item) for item in payload.get("oneOf", [payload])]
    types = set()
    for envelope in envelopes:
        properties = envelope["properties"]
        assert {"event_id", "event_type", "payload", "occurred_at", "producer"} <= set(properties)
        event_type = properties["event_type"]["const"]
        model = resolve(document, properties["payload"])
        assert model["title"] == event_type
        assert model["description"] == inspect.cleandoc(EVENT_TYPES[event_type].__doc__ or "")
        types.add(event_type)
    return types


def test_the_documents_in_docs_api_are_current(generated: dict[str, str]) -> None:
    problems = gen_docs.stale(gen_docs.DOCS_DIR, generated)
    assert not problems, "; ".join(problems) + ": run make docs"


def test_there_is_an_openapi_and_an_asyncapi_document_per_service(
    generated: dict[str, str],
) -> None:
    assert sorted(generated) == sorted(
        f"{service}.{kind}.json" for service in CONSUMES for kind in ("openapi", "asyncapi")
    )
    for name, text in generated.items():
        document = json.loads(text)
        assert ("openapi" in document) == name.endswith(".openapi.json")
        assert ("asyncapi" in document) == name.endswith(".asyncapi.json")
        assert text == gen_docs.render(document), f"{name} is not in the one spelling"


@pytest.mark.parametrize("service", sorted(CONSUMES))
def test_asyncapi_names_what_the_service_consumes_with_the_payloads(
    generated: dict[str, str], service: str
) -> None:
    document = asyncapi(generated, service)
    consumed = operations(document, "receive")
    assert set(consumed) == set(CONSUMES[service])
    for topic, payloads in consumed.items():
        [payload] = payloads
        assert event_types_of(document, payload) == CONSUMES[service][topic]


@pytest.mark.parametrize("service", sorted(PUBLISHES))
def test_asyncapi_names_what_the_service_publishes_with_the_payloads(
    generated: dict[str, str], service: str
) -> None:
    document = asyncapi(generated, service)
    published = operations(document, "send")
    assert set(published) == set(PUBLISHES[service])
    for topic, payloads in published.items():
        [payload] = payloads
        expected = PUBLISHES[service][topic]
        if expected is None:  # a dead-letter topic: the original bytes, as they came
            assert payload["type"] == "string"
            channel = next(c for c in document["channels"].values() if c["address"] == topic)
            assert "dlq-reason" in channel["description"]
        else:
            assert event_types_of(document, payload) == expected


@pytest.mark.parametrize("service", sorted(CONSUMES))
def test_every_asyncapi_schema_property_has_a_description(
    generated: dict[str, str], service: str
) -> None:
    schemas = asyncapi(generated, service)["components"]["schemas"]
    missing = [
        f"{name}.{prop}"
        for name, schema in schemas.items()
        for prop, spec in schema.get("properties", {}).items()
        if not spec.get("description")
    ]
    assert missing == []
    assert "EmptyPayload" not in schemas


def test_the_environment_does_not_reach_the_documents(
    generated: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "kafka.elsewhere:9092")
    monkeypatch.setenv("KAFKA_TOPIC_NAMESPACE", "somebody.")
    monkeypatch.setenv("SERVICE_NAME", "impostor")
    app = gen_docs.SERVICES["matching"]()
    document = app.state.runtime.asyncapi(
        title=app.title, version=app.version, description=app.description
    )
    assert gen_docs.render(document) == generated["matching.asyncapi.json"]


def test_check_names_each_stale_document_and_fails(
    generated: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(gen_docs, "documents", lambda: generated)
    assert gen_docs.main(["--output", str(tmp_path)]) == 0
    assert gen_docs.main(["--check", "--output", str(tmp_path)]) == 0

    stale = tmp_path / "matching.asyncapi.json"
    stale.write_text(stale.read_text().replace("MatchProposed", "MatchSuggested"))
    (tmp_path / "profile.openapi.json").unlink()
    (tmp_path / "billing.openapi.json").write_text("{}\n")
    capsys.readouterr()

    assert gen_docs.main(["--check", "--output", str(tmp_path)]) == 1
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 3
    assert all(line.endswith("run make docs") for line in errors)
    assert any("matching.asyncapi.json is out of date" in line for line in errors)
    assert any("profile.openapi.json is missing" in line for line in errors)
    assert any("billing.openapi.json is no longer generated" in line for line in errors)

    assert gen_docs.main(["--output", str(tmp_path)]) == 0
    assert gen_docs.main(["--check", "--output", str(tmp_path)]) == 0
    assert not (tmp_path / "billing.openapi.json").exists()
