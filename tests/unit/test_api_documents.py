"""The OpenAPI documents the services publish: complete, and honest about error bodies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from matching_service.app import create_app as create_matching
from matching_service.config import MatchingSettings
from mentorship_service.app import create_app as create_mentorship
from mentorship_service.config import MentorshipSettings
from notification_service.app import create_app as create_notification
from notification_service.config import NotificationSettings
from profile_service.app import create_app as create_profile
from profile_service.config import ProfileSettings

# Building an app connects to nothing; the URL is never used.
UNUSED_DATABASE = "postgresql://nobody@localhost/unused"

APPS: dict[str, Callable[[], FastAPI]] = {
    "profile": lambda: create_profile(ProfileSettings(database_url=UNUSED_DATABASE)),
    "matching": lambda: create_matching(MatchingSettings(database_url=UNUSED_DATABASE)),
    "notification": lambda: create_notification(NotificationSettings(database_url=UNUSED_DATABASE)),
    "mentorship": lambda: create_mentorship(MentorshipSettings(database_url=UNUSED_DATABASE)),
}


@pytest.fixture(params=sorted(APPS))
def document(request: pytest.FixtureRequest) -> dict[str, Any]:
    openapi: dict[str, Any] = APPS[request.param]().openapi()
    return openapi


def test_every_schema_property_has_a_description(document: dict[str, Any]) -> None:
    missing = [
        f"{schema_name}.{prop}"
        for schema_name, schema in document["components"]["schemas"].items()
        for prop, spec in schema.get("properties", {}).items()
        if not spec.get("description")
    ]
    assert missing == []


def test_validation_errors_are_documented_with_the_body_the_services_send(
    document: dict[str, Any],
) -> None:
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            answer = operation["responses"].get("422")
            if answer is not None:
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)


def test_operational_routes_exist(document: dict[str, Any]) -> None:
    assert {"/healthz", "/readyz", "/metrics"} <= set(document["paths"])
