"""The profile service in-process against real PostgreSQL and Kafka: what is stored and
published for good and bad requests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from devstack.testing import KafkaHandle
from mentorship_shared.contracts.topics import PROFILE_EVENTS
from profile_service.app import create_app
from profile_service.config import ProfileSettings

from tests.support.kafka import events_of, read_topic
from tests.support.services import FAST_KAFKA, serve_in_process

pytestmark = pytest.mark.integration


def mentee_body(unique: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Ada Engineer",
        "email": f"ada-{unique}@example.com",
        "timezone": "Europe/Berlin",
        "languages": ["en", "de"],
        "skills": [
            {"skill": "pricing_monetisation", "current": 1, "target": 4},
            {"skill": "technical_depth", "current": 5, "target": 5},
        ],
        "current_role": "Senior backend engineer",
        "years_experience": 7,
        "target_role": "Associate product manager",
        "goals": "Lead a pricing change end to end.",
    }
    body.update(overrides)
    return body


def mentor_body(unique: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Grace Product",
        "email": f"grace-{unique}@example.com",
        "timezone": "Europe/Paris",
        "languages": ["en"],
        "capacity": 3,
        "was_engineer": True,
        "skills": [{"skill": "pricing_monetisation", "level": 5}],
    }
    body.update(overrides)
    return body


@pytest.fixture
async def profile_db(new_database: Callable[[str], Awaitable[str]]) -> str:
    return await new_database("profile")


@pytest.fixture
async def api(
    profile_db: str, kafka: KafkaHandle, namespace: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = ProfileSettings(
        database_url=profile_db,
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        kafka_topic_namespace=namespace,
        operator_api_key="operator-secret-for-tests",
        **FAST_KAFKA,
    )
    async with serve_in_process(create_app(settings)) as client:
        yield client


async def test_skills_lists_the_taxonomy(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/skills")
    assert response.status_code == 200
    skills = response.json()
    assert 12 <= len(skills) <= 16
    assert {"id", "name", "description"} <= set(skills[0])
    assert "pricing_monetisation" in {s["id"] for s in skills}


async def test_registration_stores_the_profile_and_publishes_its_event(
    api: httpx.AsyncClient, kafka: KafkaHandle, namespace: str, profile_db: str, unique: str
) -> None:
    response = await api.post("/v1/mentees", json=mentee_body(unique))

    assert response.status_code == 201, response.text
    created = response.json()
    assert created["token"]
    assert created["kind"] == "mentee"
    assert created["version"] == 1
    assert response.headers["location"] == f"/v1/profiles/{created['id']}"
    conn = await asyncpg.connect(profile_db)
    try:
        row = await conn.fetchrow(
            "SELECT email, token_hash FROM profiles WHERE id = $1", created["id"]
        )
    finally:
        await conn.close()
    assert row is not None
    assert row["email"] == f"ada-{unique}@example.com"
    assert created["token"].encode() not in bytes(row["token_hash"])

    records = await read_topic(
        kafka.bootstrap_servers,
        f"{namespace}{PROFILE_EVENTS}",
        until=lambda rs: bool(events_of(rs, "MenteeRegistered")),
    )
    [event] = events_of(records, "MenteeRegistered")
    assert event["producer"] == "profile"
    assert event["schema_version"] == 1
    assert event["payload"]["profile"]["profile_id"] == created["id"]
    assert records[0].key == created["id"].encode()
    assert created["token"] not in records[0].value.decode()


INVALID_REGISTRATIONS = [
    ("/v1/mentees", {"email": "not-an-email"}, "email"),
    ("/v1/mentees", {"timezone": "Mars/Olympus"}, "timezone"),
    ("/v1/mentees", {"languages": ["english"]}, "languages"),
    ("/v1/mentees", {"languages": []}, "languages"),
    ("/v1/mentees", {"name": ""}, "name"),
    (
        "/v1/mentees",
        {"skills": [{"skill": "juggling", "current": 1, "target": 2}]},
        "skills.0.skill",
    ),
    (
        "/v1/mentees",
        {"skills": [{"skill": "go_to_market", "current": 1, "target": 6}]},
        "skills.0.target",
    ),
    (
        "/v1/mentees",
        {"skills": [{"skill": "go_to_market", "current": -1, "target": 2}]},
        "skills.0.current",
    ),
    ("/v1/mentees", {"skills": [{"skill": "go_to_market", "current": 4, "target": 2}]}, "skills.0"),
    ("/v1/mentees", {"skills": [{"skill": "go_to_market", "current": 2, "target": 2}]}, "skills"),
    ("/v1/mentees", {"skills": []}, "skills"),
    ("/v1/mentees", {"id": "00000000-0000-0000-0000-000000000001"}, "id"),
    ("/v1/mentees", {"version": 7}, "version"),
    ("/v1/mentees", {"years_experience": "seven"}, "years_experience"),
    ("/v1/mentors", {"capacity": 0}, "capacity"),
    ("/v1/mentors", {"capacity": 11}, "capacity"),
    ("/v1/mentors", {"capacity": "3"}, "capacity"),
    ("/v1/mentors", {"was_engineer": "yes"}, "was_engineer"),
    ("/v1/mentors", {"skills": [{"skill": "pricing_monetisation", "level": 9}]}, "skills.0.level"),
    (
        "/v1/mentors",
        {"skills": [{"skill": "go_to_market", "level": 3}, {"skill": "go_to_market", "level": 4}]},
        "skills",
    ),
    ("/v1/mentors", {"load": 2}, "load"),
]


@pytest.mark.parametrize(("path", "change", "field"), INVALID_REGISTRATIONS)
async def test_invalid_registration_is_rejected_naming_the_field_and_changes_nothing(
    api: httpx.AsyncClient,
    kafka: KafkaHandle,
    namespace: str,
    profile_db: str,
    unique: str,
    path: str,
    change: dict[str, Any],
    field: str,
) -> None:
    body = (mentee_body if path == "/v1/mentees" else mentor_body)(unique, **change)

    response = await api.post(path, json=body)

    assert response.status_code == 422, response.text
    error = response.json()
    assert error["error"] == "invalid_request"
    assert field in [f["field"] for f in error["fields"]], error
    conn = await asyncpg.connect(profile_db)
    try:
        assert await conn.fetchval("SELECT count(*) FROM profiles") == 0
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await conn.close()
    assert (
        await read_topic(kafka.bootstrap_servers, f"{namespace}{PROFILE_EVENTS}", timeout=0.5) == []
    )


async def test_malformed_json_gets_a_json_error(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/mentees", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


async def test_a_second_registration_with_the_same_email_conflicts(
    api: httpx.AsyncClient, unique: str
) -> None:
    assert (await api.post("/v1/mentors", json=mentor_body(unique))).status_code == 201
    response = await api.post(
        "/v1/mentees", json=mentee_body(unique, email=f"GRACE-{unique}@example.com")
    )
    assert response.status_code == 409
    assert response.json()["fields"][0]["field"] == "email"


async def test_owner_reads_changes_and_deletes_the_profile_others_cannot(
    api: httpx.AsyncClient, kafka: KafkaHandle, namespace: str, unique: str
) -> None:
    mine = (await api.post("/v1/mentors", json=mentor_body(unique))).json()
    other = (await api.post("/v1/mentees", json=mentee_body(unique))).json()
    url = f"/v1/profiles/{mine['id']}"
    owner = {"Authorization": f"Bearer {mine['token']}"}

    assert (await api.get(url)).status_code == 401
    assert (
        await api.get(url, headers={"Authorization": f"Bearer {other['token']}"})
    ).status_code == 404
    read = await api.get(url, headers=owner)
    assert read.status_code == 200
    assert read.json()["email"] == mine["email"]
    assert "token" not in read.json()
    operator = await api.get(url, headers={"Authorization": "Bearer operator-secret-for-tests"})
    assert operator.status_code == 200

    changed = await api.patch(url, json={"capacity": 5, "accepting_mentees": False}, headers=owner)
    assert changed.status_code == 200, changed.text
    assert changed.json()["capacity"] == 5
    assert changed.json()["version"] == 2

    wrong_kind = await api.patch(url, json={"target_role": "CEO"}, headers=owner)
    assert wrong_kind.status_code == 422
    assert wrong_kind.json()["fields"][0]["field"] == "target_role"
    invalid = await api.patch(
        url, json={"skills": [{"skill": "go_to_market", "level": 7}]}, headers=owner
    )
    assert invalid.status_code == 422
    assert invalid.json()["fields"][0]["field"] == "skills.0.level"

    assert (await api.delete(url, headers=owner)).status_code == 204
    assert (await api.get(url, headers=owner)).status_code == 404

    records = await read_topic(
        kafka.bootstrap_servers,
        f"{namespace}{PROFILE_EVENTS}",
        until=lambda rs: bool(events_of(rs, "ProfileDeleted")),
    )
    [updated] = events_of(records, "ProfileUpdated")
    assert updated["payload"]["changed_fields"] == ["accepting_mentees", "capacity"]
    assert updated["payload"]["profile"]["version"] == 2
    [deleted] = events_of(records, "ProfileDeleted")
    assert deleted["payload"]["profile_id"] == mine["id"]
    mine_records = [r for r in records if r.key == mine["id"].encode()]
    assert [json.loads(r.value)["event_type"] for r in mine_records] == [
        "MentorRegistered",
        "ProfileUpdated",
        "ProfileDeleted",
    ]


async def test_health_and_readiness(api: httpx.AsyncClient) -> None:
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok", "outbox_relay": "ok"}
    assert "events_published_total" in (await api.get("/metrics")).text


# --- A mentor's booking link: public https only ------------------------------------------

PUBLIC_BOOKING_URL = "https://93.184.215.14/cal/grace"


async def stored_and_published(profile_db: str) -> tuple[int, int]:
    conn = await asyncpg.connect(profile_db)
    try:
        profiles = await conn.fetchval("SELECT count(*) FROM profiles")
        outbox = await conn.fetchval("SELECT count(*) FROM outbox")
    finally:
        await conn.close()
    return profiles, outbox


def booking_url_refusal(response: httpx.Response) -> str:
    """The message of a 422 that names booking_url (and nothing else)."""
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["error"] == "invalid_request"
    assert [f["field"] for f in error["fields"]] == ["booking_url"], error
    message: str = error["fields"][0]["message"]
    assert message
    return message


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://localhost/cal", "local name"),
        ("https://127.0.0.1/cal", "loopback"),
        ("https://10.0.0.5/cal", "private"),
        ("https://169.254.169.254/latest/meta-data/", "metadata"),
        ("https://[::1]/cal", "loopback"),
        ("https://[::ffff:10.0.0.5]/cal", "private"),
        ("https://metadata.google.internal/computeMetadata/v1/", "local name"),
        ("http://93.184.215.14/cal", "https://"),
        ("https://user:pw@93.184.215.14/cal", "user name or password"),
    ],
)
async def test_a_mentor_with_a_non_public_booking_link_gets_422_and_nothing_is_stored(
    api: httpx.AsyncClient,
    kafka: KafkaHandle,
    namespace: str,
    profile_db: str,
    unique: str,
    url: str,
    says: str,
) -> None:
    response = await api.post("/v1/mentors", json=mentor_body(unique, booking_url=url))

    assert says in booking_url_refusal(response)
    assert await stored_and_published(profile_db) == (0, 0)
    assert (
        await read_topic(kafka.bootstrap_servers, f"{namespace}{PROFILE_EVENTS}", timeout=0.5) == []
    )


async def test_a_host_resolving_to_a_private_address_is_refused_at_registration(
    api: httpx.AsyncClient,
    profile_db: str,
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import profile_service.domain
    from mentorship_shared.plumbing import urls

    asked: list[str] = []

    async def rebinding_dns(host: str) -> list[str]:
        asked.append(host)
        return ["93.184.215.14", "10.0.0.1"]

    async def check(url: str, **_: object) -> str:
        return await urls.check_public_url_async(url, resolver=rebinding_dns)

    monkeypatch.setattr(profile_service.domain, "check_public_url_async", check)

    response = await api.post(
        "/v1/mentors", json=mentor_body(unique, booking_url="https://cal.example.com/grace")
    )

    assert "resolves to 10.0.0.1" in booking_url_refusal(response)
    assert asked == ["cal.example.com"]
    assert await stored_and_published(profile_db) == (0, 0)


async def test_a_host_that_does_not_resolve_is_refused_at_registration(
    api: httpx.AsyncClient, profile_db: str, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    import profile_service.domain
    from mentorship_shared.plumbing import urls

    async def no_such_name(_host: str) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def check(url: str, **_: object) -> str:
        return await urls.check_public_url_async(url, resolver=no_such_name)

    monkeypatch.setattr(profile_service.domain, "check_public_url_async", check)

    response = await api.post(
        "/v1/mentors", json=mentor_body(unique, booking_url="https://cal.exampel.com/grace")
    )

    assert "does not resolve" in booking_url_refusal(response)
    assert await stored_and_published(profile_db) == (0, 0)


async def test_a_public_booking_link_is_stored_and_published_with_the_mentor(
    api: httpx.AsyncClient, kafka: KafkaHandle, namespace: str, unique: str
) -> None:
    response = await api.post(
        "/v1/mentors", json=mentor_body(unique, booking_url="HTTPS://93.184.215.14/cal/grace")
    )

    assert response.status_code == 201, response.text
    assert response.json()["booking_url"] == PUBLIC_BOOKING_URL
    records = await read_topic(
        kafka.bootstrap_servers,
        f"{namespace}{PROFILE_EVENTS}",
        until=lambda rs: bool(events_of(rs, "MentorRegistered")),
    )
    [registered] = events_of(records, "MentorRegistered")
    assert registered["payload"]["profile"]["booking_url"] == PUBLIC_BOOKING_URL


async def test_a_mentor_changes_and_removes_the_booking_link_a_mentee_cannot_set_one(
    api: httpx.AsyncClient, kafka: KafkaHandle, namespace: str, unique: str
) -> None:
    mine = (await api.post("/v1/mentors", json=mentor_body(unique))).json()
    engineer = (await api.post("/v1/mentees", json=mentee_body(unique))).json()
    url = f"/v1/profiles/{mine['id']}"
    owner = {"Authorization": f"Bearer {mine['token']}"}
    assert mine["booking_url"] is None

    added = await api.patch(url, json={"booking_url": PUBLIC_BOOKING_URL}, headers=owner)
    assert added.status_code == 200, added.text
    assert added.json()["booking_url"] == PUBLIC_BOOKING_URL

    refused = await api.patch(url, json={"booking_url": "https://10.0.0.5/cal"}, headers=owner)
    assert "private" in booking_url_refusal(refused)
    assert (await api.get(url, headers=owner)).json()["booking_url"] == PUBLIC_BOOKING_URL

    removed = await api.patch(url, json={"booking_url": None}, headers=owner)
    assert removed.status_code == 200, removed.text
    assert removed.json()["booking_url"] is None

    mentee_link = await api.patch(
        f"/v1/profiles/{engineer['id']}",
        json={"booking_url": PUBLIC_BOOKING_URL},
        headers={"Authorization": f"Bearer {engineer['token']}"},
    )
    assert mentee_link.status_code == 422
    assert mentee_link.json()["fields"][0]["field"] == "booking_url"

    records = await read_topic(
        kafka.bootstrap_servers,
        f"{namespace}{PROFILE_EVENTS}",
        until=lambda rs: len(events_of(rs, "ProfileUpdated")) >= 2,
    )
    updates = [e["payload"] for e in events_of(records, "ProfileUpdated")]
    assert [(u["changed_fields"], u["profile"]["booking_url"]) for u in updates] == [
        (["booking_url"], PUBLIC_BOOKING_URL),
        (["booking_url"], None),
    ]
