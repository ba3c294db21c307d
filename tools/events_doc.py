"""docs/events.md, written from the event contracts and the services' AsyncAPI documents: the
envelope, then per topic its partitions, who publishes and who consumes it (and why), and every
event on it with the description of each payload field.

The events are the contracts' EVENT_TYPES; who publishes and consumes what is read from the
AsyncAPI document of each service, so a new event or a new consumer appears here without an edit.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Iterator, Mapping
from typing import Any

from mentorship_shared.contracts.envelope import EventEnvelope
from mentorship_shared.contracts.events import EVENT_TYPES
from mentorship_shared.contracts.topics import DEAD_LETTER_SUFFIX, TOPIC_PARTITIONS
from mentorship_shared.plumbing.dead_letters import DEAD_LETTER_HEADERS
from pydantic import BaseModel

from tools.configuration_doc import table_cell

HEADER = """\
# Events

<!-- Written by `make docs` (tools/gen_docs.py) from shared/src/mentorship_shared/contracts/
     and the services' AsyncAPI documents: change the models' docstrings and
     Field(description=...), not this page; a unit test fails while it is stale. -->

Every event travels in one JSON envelope, keyed on Kafka by the id of the aggregate it is about
(the profile or the match), so one aggregate's events stay in order. Changes to events are
additive; consumers ignore fields and event types they do not know. The schemas, field by
field, are in the AsyncAPI documents of [api/](api/).
"""


def _fields(model: type[BaseModel]) -> str:
    lines = ["| field | meaning |\n", "|---|---|\n"]
    for name, field in model.model_fields.items():
        optional = "" if field.is_required() else " (optional)"
        lines.append(f"| `{name}`{optional} | {table_cell(field.description or '')} |\n")
    return "".join(lines)


def _nested_models(annotation: Any) -> Iterator[type[BaseModel]]:
    """The models a field's annotation holds (inside unions, lists, Annotated, ...)."""
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from _nested_models(argument)


def nested(models: list[type[BaseModel]]) -> list[type[BaseModel]]:
    """Every model the payloads of `models` hold, directly or deeper, in the order met."""
    found: list[type[BaseModel]] = []
    pending = list(models)
    while pending:
        for field in pending.pop(0).model_fields.values():
            for model in _nested_models(field.annotation):
                if model not in found:
                    found.append(model)
                    pending.append(model)
    return found


def _docstring(model: type[Any]) -> str:
    return " ".join(inspect.cleandoc(model.__doc__ or "").split())


def _operations(asyncapi: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, list[str]]]:
    """Topic -> action ("send", "receive") -> "service" or "service: channel description"."""
    found: dict[str, dict[str, list[str]]] = {}
    for service, document in sorted(asyncapi.items()):
        for operation in document["operations"].values():
            reference = operation["channel"]["$ref"].removeprefix("#/channels/")
            channel = document["channels"][reference]
            entry = service
            if operation["action"] == "receive" and channel.get("description"):
                entry = f"{service}: {' '.join(channel['description'].split())}"
            found.setdefault(channel["address"], {}).setdefault(operation["action"], []).append(
                entry
            )
    return found


def render(asyncapi: Mapping[str, Mapping[str, Any]]) -> str:
    """The page, from each service's AsyncAPI document (service name -> parsed JSON)."""
    operations = _operations(asyncapi)
    text = HEADER + "\n## The envelope\n\n" + _fields(EventEnvelope)
    for topic, partitions in TOPIC_PARTITIONS.items():
        if topic.endswith(DEAD_LETTER_SUFFIX):
            continue
        users = operations.get(topic, {})
        published = ", ".join(users.get("send", [])) or "no service"
        text += (
            f"\n## {topic}\n\n{partitions} partitions; published by {published}.\n"
            + "".join(f"\n- Consumed by {entry}" for entry in users.get("receive", []))
            + ("\n" if users.get("receive") else "")
        )
        for event_type, model in EVENT_TYPES.items():
            if model.topic == topic:
                text += f"\n### {event_type}\n\n{_docstring(model)}\n\n" + _fields(model)
    inner = nested([*EVENT_TYPES.values()])
    if inner:
        text += "\n## Inside the payloads\n\nThe models the events above carry as fields.\n"
        for inner_model in inner:
            text += f"\n### {inner_model.__name__}\n\n{_docstring(inner_model)}\n\n"
            text += _fields(inner_model)
    dead_letters = [topic for topic in TOPIC_PARTITIONS if topic.endswith(DEAD_LETTER_SUFFIX)]
    text += (
        "\n## Dead-letter topics\n\n"
        "A message a consumer can never process (malformed, a newer schema version, an invalid "
        "payload, or a handler that kept failing) goes to `<topic>.dlq` through the consumer's "
        "outbox: the original bytes and headers, plus the headers "
        + ", ".join(f"`{header}`" for header in DEAD_LETTER_HEADERS)
        + ". [reliability.md](reliability.md#dead-letters) says how operators replay them.\n\n"
        "| topic | partitions | written by |\n|---|---|---|\n"
    )
    for topic in dead_letters:
        writers = ", ".join(operations.get(topic, {}).get("send", [])) or "no service"
        text += f"| `{topic}` | {TOPIC_PARTITIONS[topic]} | {writers} |\n"
    return text
