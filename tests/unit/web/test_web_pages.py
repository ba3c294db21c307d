"""The pages against a fake profile and matching API (httpx.MockTransport): CSRF refusals,
the API's field errors shown beside the fields, the session cookie after registering.

The whole flow against the real services runs in tests/e2e/test_web_browser.py.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.support.sessions import SIGNER
from tests.support.web_pages import csrf_token, web_pages

SKILLS = [
    {"id": "pricing_monetisation", "name": "Pricing", "description": "Money.", "group": "build"},
    {"id": "product_strategy", "name": "Strategy", "description": "Direction.", "group": "build"},
]


class FakeApis:
    """Answers like the profile API: registrations are refused or accepted as set."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.registration_answer: tuple[int, dict[str, object]] = (201, {})

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(
            (request.method, request.url.path, dict(request.headers), request.content)
        )
        path = request.url.path
        if path == "/v1/skills":
            return httpx.Response(200, json=SKILLS)
        if path == "/v1/mentees":
            status, body = self.registration_answer
            return httpx.Response(status, json=body)
        if path.endswith("/sessions"):
            profile_id = uuid.UUID(path.split("/")[3])
            credential, _ = SIGNER.issue(
                profile_id, "mentee", now=datetime.now(UTC), lifetime=timedelta(hours=8)
            )
            return httpx.Response(
                201, json={"session_credential": credential, "expires_in_seconds": 28800}
            )
        if path == "/v1/sign-in-links":
            return httpx.Response(202, json={"status": "accepted"})
        return httpx.Response(404, json={"error": "not_found", "message": "no", "fields": []})


@pytest.fixture
async def web() -> AsyncIterator[tuple[httpx.AsyncClient, FakeApis]]:
    fake = FakeApis()
    async with web_pages(fake.handle) as client:
        yield client, fake


def engineer_form(token: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "name": "Erin",
        "email": "erin@example.com",
        "timezone": "Europe/Berlin",
        "languages": "en",
        "current-pricing_monetisation": "3",
        "target-pricing_monetisation": "1",
    }


async def test_a_form_without_its_csrf_token_is_refused_and_nothing_is_sent(
    web: tuple[httpx.AsyncClient, FakeApis],
) -> None:
    client, fake = web
    await client.get("/register/engineer")  # sets the csrf cookie
    for token in ("", "0" * 64):
        answer = await client.post("/register/engineer", data=engineer_form(token))
        assert answer.status_code == 403
        assert "This form has expired" in answer.text
    assert not [r for r in fake.requests if r[1] == "/v1/mentees"]


async def test_a_post_from_another_site_is_refused_even_with_a_token(
    web: tuple[httpx.AsyncClient, FakeApis],
) -> None:
    client, fake = web
    token = csrf_token((await client.get("/register/engineer")).text)
    answer = await client.post(
        "/register/engineer",
        data=engineer_form(token),
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert answer.status_code == 403
    assert not [r for r in fake.requests if r[1] == "/v1/mentees"]


async def test_the_api_s_field_errors_are_shown_beside_the_fields(
    web: tuple[httpx.AsyncClient, FakeApis],
) -> None:
    client, fake = web
    fake.registration_answer = (
        422,
        {
            "error": "invalid_request",
            "message": "The request is invalid.",
            "fields": [
                {"field": "skills.0", "message": "target (1) is below current (3)"},
                {"field": "email", "message": "value is not a valid email address"},
            ],
        },
    )
    token = csrf_token((await client.get("/register/engineer")).text)
    answer = await client.post("/register/engineer", data=engineer_form(token))
    assert answer.status_code == 422
    page = answer.text
    assert 'id="skill-pricing_monetisation-error"' in page
    assert "target (1) is below current (3)" in page
    assert re.search(r'id="email-error">.*value is not a valid email address', page)
    assert re.search(r'<input id="email"[^>]*aria-invalid="true"', page)
    # What was typed stays in the form.
    assert 'value="Erin"' in page
    assert not [c for c in answer.headers.get_list("set-cookie") if c.startswith("session=")]
    sent = json.loads(next(r[3] for r in fake.requests if r[1] == "/v1/mentees"))
    assert sent["skills"][0] == {"skill": "pricing_monetisation", "current": 3, "target": 1}


async def test_registering_shows_the_token_once_and_signs_in_with_a_session_cookie(
    web: tuple[httpx.AsyncClient, FakeApis],
) -> None:
    client, fake = web
    profile_id = str(uuid.uuid4())
    fake.registration_answer = (
        201,
        {
            "id": profile_id,
            "token": "the-owner-token",
            "name": "Erin",
            "kind": "mentee",
            "email": "erin@example.com",
        },
    )
    token = csrf_token((await client.get("/register/engineer")).text)
    answer = await client.post("/register/engineer", data=engineer_form(token))
    assert answer.status_code == 200, answer.text
    assert "the-owner-token" in answer.text
    assert answer.headers["cache-control"] == "no-store"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "the-owner-token" not in cookie
    # The owner token went to the profile service once, to open the session, and no further.
    opened = [r for r in fake.requests if r[1].endswith("/sessions")]
    assert opened[0][2]["authorization"] == "Bearer the-owner-token"
    # Signed in: the navigation offers the person's pages.
    home = await client.get("/")
    assert 'href="/matches"' in home.text
    assert "Sign out" in home.text


async def test_asking_for_a_link_answers_the_same_page_and_forwards_the_browser_address(
    web: tuple[httpx.AsyncClient, FakeApis],
) -> None:
    client, fake = web
    token = csrf_token((await client.get("/sign-in")).text)
    answer = await client.post("/sign-in", data={"csrf_token": token, "email": "x@example.com"})
    assert answer.status_code == 200
    assert "If <strong>x@example.com</strong> is registered here" in answer.text
    _, _, headers, body = next(r for r in fake.requests if r[1] == "/v1/sign-in-links")
    assert json.loads(body) == {"email": "x@example.com"}
    assert headers["x-frontend-key"] == "the-frontend-key"
    assert headers["x-forwarded-for"] == "127.0.0.1"  # the test client's address


async def test_pages_of_a_signed_in_person_send_strangers_to_sign_in(
    web: tuple[httpx.AsyncClient, FakeApis],
) -> None:
    client, _ = web
    for path in ("/matches", "/suggestions", "/profile", "/profile/delete"):
        answer = await client.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/sign-in"
    client.cookies.set("session", "s1.e30.AAAA")
    forged = await client.get("/matches")
    assert forged.status_code == 303


async def test_every_page_carries_the_protective_headers(
    web: tuple[httpx.AsyncClient, FakeApis],
) -> None:
    client, _ = web
    answer = await client.get("/")
    assert answer.status_code == 200
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["referrer-policy"] == "no-referrer"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("csrf="))
    assert "HttpOnly" in cookie
