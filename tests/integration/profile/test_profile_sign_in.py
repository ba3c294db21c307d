"""Signing in to the web pages, on the profile service in-process against real PostgreSQL and
Kafka: mailed one-time links (stored hashed, used once, limited per address and per email,
the same answer for unknown addresses) and the session credentials they buy."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from devstack.testing import KafkaHandle
from mentorship_shared.contracts.topics import PROFILE_EVENTS
from mentorship_shared.plumbing.auth import hash_token
from mentorship_shared.plumbing.sessions import SessionSigner, generate_signing_key
from profile_service.app import create_app
from profile_service.config import ProfileSettings

from tests.integration.profile.test_profile_api import mentee_body, mentor_body
from tests.support.kafka import events_of, read_topic
from tests.support.services import FAST_KAFKA

pytestmark = pytest.mark.integration

SIGNING_KEY = generate_signing_key()
FRONTEND_KEY = "frontend-key-of-the-tests"


@asynccontextmanager
async def profile_service(
    profile_db: str, kafka: KafkaHandle, namespace: str, **overrides: Any
) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    """The service, and clients whose connections come from a given address."""
    settings = ProfileSettings(
        database_url=profile_db,
        kafka_bootstrap_servers=kafka.bootstrap_servers,
        kafka_topic_namespace=namespace,
        **{
            **FAST_KAFKA,
            "session_signing_key": SIGNING_KEY,
            "frontend_key": FRONTEND_KEY,
            **overrides,
        },
    )
    app = create_app(settings)
    clients: list[httpx.AsyncClient] = []

    def client_from(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        client = httpx.AsyncClient(transport=transport, base_url="http://service")
        clients.append(client)
        return client

    async with app.router.lifespan_context(app):
        try:
            yield client_from
        finally:
            for client in clients:
                await client.aclose()


async def link_events(kafka: KafkaHandle, namespace: str, count: int) -> list[dict[str, Any]]:
    records = await read_topic(
        kafka.bootstrap_servers,
        f"{namespace}{PROFILE_EVENTS}",
        until=lambda rs: len(events_of(rs, "SignInLinkRequested")) >= count,
    )
    return [event["payload"] for event in events_of(records, "SignInLinkRequested")]


async def test_a_link_is_mailed_only_for_a_registered_address_and_the_answer_is_the_same(
    profile_db: str, kafka: KafkaHandle, namespace: str, unique: str
) -> None:
    async with profile_service(profile_db, kafka, namespace) as client_from:
        api = client_from("10.0.0.1")
        registered = (await api.post("/v1/mentees", json=mentee_body(unique))).json()
        unknown = await api.post("/v1/sign-in-links", json={"email": f"nobody-{unique}@x.org"})
        known = await api.post(
            "/v1/sign-in-links",
            json={"email": f"ADA-{unique}@example.com"},  # any case
        )
        assert unknown.status_code == known.status_code == 202
        assert unknown.json() == known.json()

        [event] = await link_events(kafka, namespace, 1)
        assert event["profile_id"] == registered["id"]
        assert event["kind"] == "mentee"
        token = event["link_token"]
        conn = await asyncpg.connect(profile_db)
        try:
            stored = await conn.fetch("SELECT token_hash, profile_id FROM sign_in_links")
        finally:
            await conn.close()
        # Kept as a hash; in the clear only in the event on its way to the mail.
        assert [bytes(row["token_hash"]) for row in stored] == [hash_token(token)]
        assert [str(row["profile_id"]) for row in stored] == [registered["id"]]


async def test_a_link_signs_in_once_and_the_credential_opens_only_its_own_profile(
    profile_db: str, kafka: KafkaHandle, namespace: str, unique: str
) -> None:
    async with profile_service(profile_db, kafka, namespace) as client_from:
        api = client_from("10.0.0.1")
        mine = (await api.post("/v1/mentors", json=mentor_body(unique))).json()
        other = (await api.post("/v1/mentees", json=mentee_body(unique))).json()
        await api.post("/v1/sign-in-links", json={"email": mine["email"]})
        [event] = await link_events(kafka, namespace, 1)

        first = await api.post("/v1/sessions", json={"sign_in_token": event["link_token"]})
        assert first.status_code == 201, first.text
        session = first.json()
        assert session["profile_id"] == mine["id"]
        assert session["kind"] == "mentor"
        assert 0 < session["expires_in_seconds"] <= 8 * 3600
        again = await api.post("/v1/sessions", json={"sign_in_token": event["link_token"]})
        assert again.status_code == 400
        assert again.json()["fields"][0]["field"] == "sign_in_token"

        bearer = {"Authorization": f"Bearer {session['session_credential']}"}
        assert (await api.get(f"/v1/profiles/{mine['id']}", headers=bearer)).status_code == 200
        assert (await api.get(f"/v1/profiles/{other['id']}", headers=bearer)).status_code == 404
        changed = await api.patch(
            f"/v1/profiles/{mine['id']}", json={"accepting_mentees": False}, headers=bearer
        )
        assert changed.status_code == 200
        assert changed.json()["accepting_mentees"] is False
        # A session credential cannot buy itself a longer life; the owner token can.
        extend = await api.post(f"/v1/profiles/{mine['id']}/sessions", headers=bearer)
        assert extend.status_code == 404
        owner = {"Authorization": f"Bearer {mine['token']}"}
        opened = await api.post(f"/v1/profiles/{mine['id']}/sessions", headers=owner)
        assert opened.status_code == 201
        assert opened.json()["profile_id"] == mine["id"]
        # Signed in by mail, a person who lost the owner token gets a new one.
        rotated = await api.post(f"/v1/profiles/{mine['id']}/token", headers=bearer)
        assert rotated.status_code == 200
        new_owner = {"Authorization": f"Bearer {rotated.json()['token']}"}
        assert (await api.get(f"/v1/profiles/{mine['id']}", headers=new_owner)).status_code == 200
        assert (await api.get(f"/v1/profiles/{mine['id']}", headers=owner)).status_code == 404
        # Signed by another key: nobody.
        forged, _ = SessionSigner(generate_signing_key()).issue(
            uuid.UUID(mine["id"]), "mentor", now=datetime.now(UTC), lifetime=timedelta(hours=1)
        )
        forged_bearer = {"Authorization": f"Bearer {forged}"}
        assert (
            await api.get(f"/v1/profiles/{mine['id']}", headers=forged_bearer)
        ).status_code == 404


async def test_an_expired_link_does_not_sign_in(
    profile_db: str, kafka: KafkaHandle, namespace: str, unique: str
) -> None:
    async with profile_service(profile_db, kafka, namespace) as client_from:
        api = client_from("10.0.0.1")
        mine = (await api.post("/v1/mentees", json=mentee_body(unique))).json()
        await api.post("/v1/sign-in-links", json={"email": mine["email"]})
        [event] = await link_events(kafka, namespace, 1)
        conn = await asyncpg.connect(profile_db)
        try:
            await conn.execute("UPDATE sign_in_links SET expires_at = now() - interval '1 s'")
        finally:
            await conn.close()
        answer = await api.post("/v1/sessions", json={"sign_in_token": event["link_token"]})
        assert answer.status_code == 400


async def test_link_requests_are_limited_per_email_and_per_browser_address(
    profile_db: str, kafka: KafkaHandle, namespace: str, unique: str
) -> None:
    async with profile_service(
        profile_db, kafka, namespace, sign_in_rate_per_email=2, sign_in_rate_per_address=3
    ) as client_from:
        web = client_from("10.0.0.9")  # the web front end, passing browsers' requests on

        def from_browser(address: str) -> dict[str, str]:
            return {"X-Frontend-Key": FRONTEND_KEY, "X-Forwarded-For": address}

        email = {"email": f"someone-{unique}@example.com"}
        for _ in range(2):
            ok = await web.post("/v1/sign-in-links", json=email, headers=from_browser("1.1.1.1"))
            assert ok.status_code == 202
        limited = await web.post("/v1/sign-in-links", json=email, headers=from_browser("2.2.2.2"))
        assert limited.status_code == 429
        assert limited.json()["fields"][0]["field"] == "email"
        assert "sign-in link requests" in limited.json()["message"]

        # Per address: each browser has its own count behind the front end...
        for n in range(3):
            answer = await web.post(
                "/v1/sign-in-links",
                json={"email": f"b{n}-{unique}@example.com"},
                headers=from_browser("3.3.3.3"),
            )
            assert answer.status_code == 202
        blocked = await web.post(
            "/v1/sign-in-links",
            json={"email": f"b9-{unique}@example.com"},
            headers=from_browser("3.3.3.3"),
        )
        assert blocked.status_code == 429
        other_browser = await web.post(
            "/v1/sign-in-links",
            json={"email": f"b9-{unique}@example.com"},
            headers=from_browser("4.4.4.4"),
        )
        assert other_browser.status_code == 202
        # ...while a caller without the key cannot pick its address by writing the header.
        script = client_from("5.5.5.5")
        spoofed = {"X-Forwarded-For": "6.6.6.6", "X-Frontend-Key": "a guess"}
        for n in range(3):
            answer = await script.post(
                "/v1/sign-in-links", json={"email": f"s{n}-{unique}@example.com"}, headers=spoofed
            )
            assert answer.status_code == 202
        spoofed["X-Forwarded-For"] = "7.7.7.7"
        answer = await script.post(
            "/v1/sign-in-links", json={"email": f"s9-{unique}@example.com"}, headers=spoofed
        )
        assert answer.status_code == 429


async def test_without_a_signing_key_sign_in_is_unavailable_and_nothing_is_stored(
    profile_db: str, kafka: KafkaHandle, namespace: str, unique: str
) -> None:
    async with profile_service(
        profile_db, kafka, namespace, session_signing_key=None
    ) as client_from:
        api = client_from("10.0.0.1")
        mine = (await api.post("/v1/mentees", json=mentee_body(unique))).json()
        answer = await api.post("/v1/sign-in-links", json={"email": mine["email"]})
        assert answer.status_code == 503
        assert answer.json()["error"] == "sign_in_not_configured"
        conn = await asyncpg.connect(profile_db)
        try:
            assert await conn.fetchval("SELECT count(*) FROM sign_in_links") == 0
        finally:
            await conn.close()
