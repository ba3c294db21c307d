"""The documents generated from the code: current, the OpenAPI and AsyncAPI documents in
docs/api/ saying what each service consumes and publishes with the payload schemas, and
docs/configuration.md naming every setting of every service."""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any, Literal

import pytest
from mentorship_shared.contracts.events import EVENT_TYPES
from mentorship_shared.contracts.topics import (
    DEAD_LETTER_SUFFIX,
    MATCH_EVENTS,
    MENTORSHIP_EVENTS,
    NOTIFICATION_EVENTS,
    PROFILE_EVENTS,
    TOPIC_PARTITIONS,
)
from mentorship_shared.plumbing.settings import ServiceSettings
from pydantic import Field, SecretStr

from tools import configuration_doc, events_doc, gen_docs
from tools.services import discover

PROFILE_TYPES = {"MenteeRegistered", "MentorRegistered", "ProfileUpdated", "ProfileDeleted"}
#: On the profile topic too, for the notification service only (the matcher ignores it).
SIGN_IN_TYPES = {"SignInLinkRequested"}
MATCH_TYPES = {"MatchProposed", "MatchAccepted", "MatchDeclined", "MatchExpired"}
#: The matcher's other events: a match concluded by its mentorship's end, a learning plan.
MATCH_AFTER_TYPES = {"MatchConcluded", "LearningPlanIssued"}
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
    "matching": {
        PROFILE_EVENTS: PROFILE_TYPES,
        MENTORSHIP_EVENTS: {"MentorshipEnded", "MentorshipOutcomeRecorded"},
    },
    "notification": {
        PROFILE_EVENTS: PROFILE_TYPES | SIGN_IN_TYPES,
        MATCH_EVENTS: MATCH_TYPES | {"LearningPlanIssued"},
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
    "profile": {PROFILE_EVENTS: PROFILE_TYPES | SIGN_IN_TYPES},
    "matching": {
        MATCH_EVENTS: MATCH_TYPES | MATCH_AFTER_TYPES,
        f"{PROFILE_EVENTS}.dlq": None,
        f"{MENTORSHIP_EVENTS}.dlq": None,
    },
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
    document: dict[str, Any] = json.loads(generated[f"api/{service}.asyncapi.json"])
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


def test_the_generated_documents_in_docs_are_current(generated: dict[str, str]) -> None:
    problems = gen_docs.stale(gen_docs.DOCS_DIR, generated)
    assert not problems, "; ".join(problems) + ": run make docs"


def test_there_is_an_openapi_and_an_asyncapi_document_per_service(
    generated: dict[str, str],
) -> None:
    api = {name: text for name, text in generated.items() if name.startswith("api/")}
    assert sorted(api) == sorted(
        f"api/{service}.{kind}.json" for service in CONSUMES for kind in ("openapi", "asyncapi")
    )
    for name, text in api.items():
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
    assert gen_docs.render(document) == generated["api/matching.asyncapi.json"]


def test_check_names_each_stale_document_and_fails(
    generated: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(gen_docs, "documents", lambda: generated)
    assert gen_docs.main(["--output", str(tmp_path)]) == 0
    assert gen_docs.main(["--check", "--output", str(tmp_path)]) == 0

    (tmp_path / "configuration.md").write_text("# Configuration\n")
    stale = tmp_path / "api" / "matching.asyncapi.json"
    stale.write_text(stale.read_text().replace("MatchProposed", "MatchSuggested"))
    (tmp_path / "api" / "profile.openapi.json").unlink()
    (tmp_path / "api" / "billing.openapi.json").write_text("{}\n")
    capsys.readouterr()

    assert gen_docs.main(["--check", "--output", str(tmp_path)]) == 1
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 4
    assert all(line.endswith("run make docs") for line in errors)
    assert any("configuration.md is out of date" in line for line in errors)
    assert any("matching.asyncapi.json is out of date" in line for line in errors)
    assert any("profile.openapi.json is missing" in line for line in errors)
    assert any("billing.openapi.json is no longer generated" in line for line in errors)

    assert gen_docs.main(["--output", str(tmp_path)]) == 0
    assert gen_docs.main(["--check", "--output", str(tmp_path)]) == 0
    assert not (tmp_path / "api" / "billing.openapi.json").exists()


# --- docs/configuration.md -------------------------------------------------------------------


def configuration_rows(text: str) -> dict[str, dict[str, list[str]]]:
    """Section title -> environment variable -> the cells of its row."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = sections.setdefault("", {})
    for line in text.splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), {})
        row = re.fullmatch(r"\| `(\w+)` \|(.*)\|", line)
        if row:
            current[row.group(1)] = [cell.strip() for cell in row.group(2).split(" | ")]
    return sections


def test_configuration_lists_every_setting_of_every_service(generated: dict[str, str]) -> None:
    text = generated["configuration.md"]
    sections = configuration_rows(text)
    shared = ServiceSettings.model_fields
    assert set(sections["Every service"]) == {name.upper() for name in shared}
    for service in discover():
        fields = service.settings_class.model_fields
        own = sections[service.name]
        assert set(own) == {name.upper() for name in fields if name not in shared}
        for name, field in fields.items():
            if name in shared and field.default != shared[name].default:
                # A shared setting the service gives its own default, in the section's header.
                assert f"`{name.upper()}={field.default}`" in text
                continue
            default, accepts, meaning = (
                own.get(name.upper()) or sections["Every service"][name.upper()]
            )
            assert default == configuration_doc.shown_default(field)
            assert accepts == configuration_doc.accepted(field)
            assert meaning
        assert f"`HTTP_PORT={service.default_port}`" in text


def test_every_documented_setting_says_what_it_does() -> None:
    # The page shows the shared descriptions and each service's own ones; a few words at least.
    described = [("ServiceSettings", name, f) for name, f in ServiceSettings.model_fields.items()]
    for service in discover():
        fields = service.settings_class.model_fields.items()
        described += [
            (service.name, n, f) for n, f in fields if n not in ServiceSettings.model_fields
        ]
    thin = [
        f"{owner}.{name}"
        for owner, name, field in described
        if len((field.description or "").split()) < 5
    ]
    assert thin == []


class _Example(ServiceSettings):
    mode: Literal["fast", "safe"] = Field(default="safe", description="How | to <go>.")
    ratio: float = Field(default=0.5, gt=0, le=1, description="A share.")
    secret: SecretStr | None = Field(default=None, description="A key.")
    count: int = Field(ge=2, description="Several.")


def test_a_settings_row_shows_default_accepted_values_and_meaning() -> None:
    rows = configuration_rows(
        configuration_doc.rows(_Example, ["mode", "ratio", "secret", "count"])
    )
    assert rows[""] == {
        "MODE": ["`safe`", "`fast` or `safe`", "How \\| to &lt;go&gt;."],
        "RATIO": ["`0.5`", "number, above 0, at most 1", "A share."],
        "SECRET": ["unset", "text (secret); may be unset", "A key."],
        "COUNT": ["required", "whole number, at least 2", "Several."],
    }


# --- docs/events.md --------------------------------------------------------------------------


def markdown_sections(text: str, level: str) -> dict[str, str]:
    """Heading -> the text under it, for the headings of one level ("## ", "### ")."""
    parts = re.split(rf"^{level}(.+)$", text, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def test_events_lists_every_topic_and_event_with_its_fields(generated: dict[str, str]) -> None:
    topics = markdown_sections(generated["events.md"], "## ")
    for topic, partitions in TOPIC_PARTITIONS.items():
        if topic.endswith(DEAD_LETTER_SUFFIX):
            assert f"| `{topic}` | {partitions} |" in topics["Dead-letter topics"]
            continue
        assert topics[topic].lstrip().startswith(f"{partitions} partitions; published by ")
        events = markdown_sections(topics[topic], "### ")
        assert set(events) == {name for name, model in EVENT_TYPES.items() if model.topic == topic}
        for name, body in events.items():
            for field in EVENT_TYPES[name].model_fields:
                assert re.search(rf"^\| `{field}`( \(optional\))? \| \S", body, re.MULTILINE)
    # Who publishes and consumes what comes from the AsyncAPI documents.
    assert "published by profile." in topics[PROFILE_EVENTS]
    assert "- Consumed by matching: " in topics[PROFILE_EVENTS]
    assert "| `match.events.dlq` | 1 | mentorship, notification |" in topics["Dead-letter topics"]
    assert "published by mentorship." in topics[MENTORSHIP_EVENTS]


def test_every_event_and_the_models_inside_say_what_they_are() -> None:
    models = [*EVENT_TYPES.values()]
    models += events_doc.nested(models)
    assert {model.__name__ for model in models} >= {"MenteeProfile", "MentorSkill"}
    undocumented = [model.__name__ for model in models if not inspect.getdoc(model)]
    assert undocumented == []
    # (An inherited docstring would do for the check above; the class must have its own.)
    assert all("__doc__" in vars(model) and model.__doc__ for model in models)
