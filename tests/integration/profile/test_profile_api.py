"""The profile service in-process against real PostgreSQL and Kafka: what is stored and
published for good and bad requests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from devstack.testing import KafkaHandle
from fastapi import FastAPI
from mentorship_shared.contracts.topics import PROFILE_EVENTS
from profile_service.app import create_app
from profile_service.config import ProfileSettings

from tests.support.kafka import events_of, read_topic
from tests.support.services import FAST_KAFKA

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


# --- Abuse limits: body size and registration rate ---------------------------------------


@asynccontextmanager
async def profile_service(
    profile_db: str, kafka: KafkaHandle, namespace: str, **overrides: Any
) -> AsyncIterator[FastAPI]:
    """A started profile service with the given settings; talk to it with `client_from`."""
    settings = ProfileSettings(
        database_url=profile_db,
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        kafka_topic_namespace=namespace,
        **{**FAST_KAFKA, **overrides},
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def client_from(app: FastAPI, address: str) -> httpx.AsyncClient:
    """A client whose connection comes from `address`."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://service")


async def table_counts(profile_db: str) -> dict[str, int]:
    conn = await asyncpg.connect(profile_db)
    try:
        return {
            table: await conn.fetchval(f"SELECT count(*) FROM {table}")
            for table in ("profiles", "outbox", "registration_attempts")
        }
    finally:
        await conn.close()


async def registered_on_topic(kafka: KafkaHandle, namespace: str, count: int) -> list[str]:
    """Emails of the registrations published, once at least `count` are there."""
    records = await read_topic(
        kafka.bootstrap_servers,
        f"{namespace}{PROFILE_EVENTS}",
        until=lambda rs: (
            len(events_of(rs, "MenteeRegistered") + events_of(rs, "MentorRegistered")) >= count
        ),
    )
    return sorted(
        event["payload"]["profile"]["email"]
        for event in events_of(records, "MenteeRegistered") + events_of(records, "MentorRegistered")
    )


def assert_rate_limited(response: httpx.Response, window: int) -> int:
    assert response.status_code == 429, response.text
    assert response.json()["error"] == "rate_limited"
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= window
    assert f"{retry_after} seconds" in response.json()["message"]
    return retry_after


async def test_registrations_from_one_address_past_the_limit_get_429_and_store_nothing(
    profile_db: str, kafka: KafkaHandle, namespace: str, unique: str
) -> None:
    async with (
        profile_service(
            profile_db,
            kafka,
            namespace,
            registration_rate_per_address=3,
            registration_rate_per_email=0,
            registration_rate_window_seconds=3600,
        ) as app,
        client_from(app, "203.0.113.7") as crowd,
        client_from(app, "198.51.100.2") as other,
    ):
        admitted = [
            await crowd.post("/v1/mentees", json=mentee_body(f"{unique}-1")),
            await crowd.post("/v1/mentors", json=mentor_body(f"{unique}-2")),
            # A taken address (409) counts as an attempt too.
            await crowd.post("/v1/mentors", json=mentor_body(f"{unique}-2")),
        ]
        refused = await crowd.post("/v1/mentees", json=mentee_body(f"{unique}-4"))
        refused_again = await crowd.post("/v1/mentors", json=mentor_body(f"{unique}-5"))
        elsewhere = await other.post("/v1/mentees", json=mentee_body(f"{unique}-6"))
        # While the service (and its outbox relay) still runs.
        published = await registered_on_topic(kafka, namespace, 3)

    assert [r.status_code for r in admitted] == [201, 201, 409], [r.text for r in admitted]
    assert_rate_limited(refused, 3600)
    assert_rate_limited(refused_again, 3600)
    assert "client address" in refused.json()["message"]
    assert refused.json()["fields"] == []
    assert elsewhere.status_code == 201, elsewhere.text
    counts = await table_counts(profile_db)
    assert (counts["profiles"], counts["outbox"]) == (3, 3)
    assert published == sorted(
        [
            f"ada-{unique}-1@example.com",
            f"grace-{unique}-2@example.com",
            f"ada-{unique}-6@example.com",
        ]
    )


async def test_attempts_for_one_email_past_the_limit_get_429_from_any_address(
    profile_db: str, kafka: KafkaHandle, namespace: str, unique: str
) -> None:
    email = f"target-{unique}@example.com"
    async with (
        profile_service(
            profile_db,
            kafka,
            namespace,
            registration_rate_per_address=0,
            registration_rate_per_email=2,
            trusted_proxy_hops=1,
        ) as app,
        client_from(app, "10.0.0.1") as proxy,
    ):

        async def register(body: dict[str, Any], address: str) -> httpx.Response:
            return await proxy.post("/v1/mentees", json=body, headers={"X-Forwarded-For": address})

        first = await register(mentee_body(unique, email=email), "203.0.113.1")
        taken = await register(mentee_body(unique, email=email), "203.0.113.2")
        # Invalid requests never reach the use case and are not counted.
        invalid = await register(mentee_body(unique, email=email, skills=[]), "203.0.113.3")
        refused = await register(mentee_body(unique, email=email.upper()), "203.0.113.4")
        other_email = await register(mentee_body(f"{unique}-x"), "203.0.113.4")

    assert (first.status_code, taken.status_code, invalid.status_code) == (201, 409, 422)
    assert_rate_limited(refused, 3600)
    assert [f["field"] for f in refused.json()["fields"]] == ["email"]
    assert "email address" in refused.json()["message"]
    assert other_email.status_code == 201, other_email.text
    counts = await table_counts(profile_db)
    assert (counts["profiles"], counts["outbox"]) == (2, 2)


async def test_the_refused_limit_counts_nothing_against_the_other(
    profile_db: str, kafka: KafkaHandle, namespace: str, unique: str
) -> None:
    async with (
        profile_service(
            profile_db,
            kafka,
            namespace,
            registration_rate_per_address=3,
            registration_rate_per_email=1,
        ) as app,
        client_from(app, "203.0.113.9") as client,
    ):
        first = await client.post("/v1/mentees", json=mentee_body(unique))
        # Refused by the email limit: the address keeps its two remaining attempts.
        refused = [await client.post("/v1/mentees", json=mentee_body(unique)) for _ in range(3)]
        others = [
            await client.post("/v1/mentees", json=mentee_body(f"{unique}-{n}")) for n in range(3)
        ]

    assert first.status_code == 201, first.text
    for response in refused:
        assert_rate_limited(response, 3600)
        assert response.json()["fields"][0]["field"] == "email"
    assert [r.status_code for r in others[:2]] == [201, 201], [r.text for r in others]
    assert_rate_limited(others[2], 3600)
    assert "client address" in others[2].json()["message"]
    assert (await table_counts(profile_db))["profiles"] == 3


async def test_instances_on_one_database_share_the_counts(
    profile_db: str, kafka: KafkaHandle, namespace: str, unique: str
) -> None:
    limits = {"registration_rate_per_address": 2, "registration_rate_per_email": 0}
    async with (
        profile_service(profile_db, kafka, namespace, **limits) as one,
        profile_service(profile_db, kafka, namespace, **limits) as two,
        client_from(one, "203.0.113.5") as to_one,
        client_from(two, "203.0.113.5") as to_two,
    ):
        first = await to_one.post("/v1/mentees", json=mentee_body(f"{unique}-1"))
        second = await to_two.post("/v1/mentees", json=mentee_body(f"{unique}-2"))
        third = await to_one.post("/v1/mentees", json=mentee_body(f"{unique}-3"))
        fourth = await to_two.post("/v1/mentees", json=mentee_body(f"{unique}-4"))

    assert (first.status_code, second.status_code) == (201, 201)
    assert_rate_limited(third, 3600)
    assert_rate_limited(fourth, 3600)
    assert (await table_counts(profile_db))["profiles"] == 2


async def test_a_limit_of_zero_disables_it(
    profile_db: str, kafka: KafkaHandle, namespace: str, unique: str
) -> None:
    defaults = ProfileSettings.model_fields
    per_address = defaults["registration_rate_per_address"].default
    per_email = defaults["registration_rate_per_email"].default
    async with (
        profile_service(
            profile_db,
            kafka,
            namespace,
            registration_rate_per_address=0,
            registration_rate_per_email=0,
        ) as app,
        client_from(app, "203.0.113.8") as client,
    ):
        # More than the default per-address limit, from one address ...
        many = [
            (await client.post("/v1/mentees", json=mentee_body(f"{unique}-{n}"))).status_code
            for n in range(per_address + 1)
        ]
        # ... and more than the default per-email limit for one address.
        again = [
            (await client.post("/v1/mentees", json=mentee_body(f"{unique}-0"))).status_code
            for _ in range(per_email + 1)
        ]

    assert many == [201] * (per_address + 1)
    assert again == [409] * (per_email + 1)
    counts = await table_counts(profile_db)
    assert counts["profiles"] == per_address + 1
    assert counts["registration_attempts"] == 0


async def test_the_default_limits_apply_without_configuration(
    profile_db: str, kafka: KafkaHandle, namespace: str, unique: str
) -> None:
    per_email = ProfileSettings.model_fields["registration_rate_per_email"].default
    assert per_email > 0
    async with (
        profile_service(profile_db, kafka, namespace) as app,
        client_from(app, "203.0.113.10") as client,
    ):
        answers = [
            (await client.post("/v1/mentees", json=mentee_body(unique))).status_code
            for _ in range(per_email + 1)
        ]
    assert answers == [201] + [409] * (per_email - 1) + [429]


async def test_a_body_above_the_limit_gets_413_and_changes_nothing(
    profile_db: str, kafka: KafkaHandle, namespace: str, unique: str
) -> None:
    limit = ProfileSettings.model_fields["max_request_body_bytes"].default
    huge = mentee_body(unique, goals="g" * limit)

    async def chunked(data: bytes) -> AsyncIterator[bytes]:
        for start in range(0, len(data), 4096):
            yield data[start : start + 4096]

    async with (
        profile_service(profile_db, kafka, namespace) as app,
        client_from(app, "203.0.113.11") as client,
    ):
        announced = await client.post("/v1/mentees", json=huge)
        streamed = await client.post(
            "/v1/mentees",
            content=chunked(json.dumps(huge).encode()),
            headers={"content-type": "application/json"},
        )
        fitting = await client.post("/v1/mentees", json=mentee_body(unique))

    for response in (announced, streamed):
        assert response.status_code == 413, response.text
        assert response.json()["error"] == "payload_too_large"
        assert response.json()["fields"][0]["field"] == "body"
    assert fitting.status_code == 201, fitting.text
    counts = await table_counts(profile_db)
    # Only the fitting request was stored, published and counted (once per limit).
    assert counts == {"profiles": 1, "outbox": 1, "registration_attempts": 2}


# --- /metrics -----------------------------------------------------------------------------


async def test_metrics_count_published_registrations_and_show_an_empty_outbox(
    api: httpx.AsyncClient, unique: str
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from tests.support.services import eventually

    async def scrape() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        response = await api.get("/metrics")
        assert response.status_code == 200, response.text
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        }

    published = (
        "mentorship_events_published_total",
        (("event_type", "MenteeRegistered"), ("topic", PROFILE_EVENTS)),
    )
    pending = ("mentorship_outbox_pending", (("service", "profile"),))
    before = await scrape()
    registered = await api.post("/v1/mentees", json=mentee_body(unique))
    assert registered.status_code == 201, registered.text

    after = await eventually(
        scrape,
        lambda s: s.get(published, 0.0) > before.get(published, 0.0) and s.get(pending) == 0,
    )
    # The profile service consumes nothing: no lag of its own.
    assert not [
        labels
        for name, labels in after
        if name == "mentorship_consumer_lag" and ("service", "profile") in labels
    ]
