"""The web front end in-process against fake service APIs (httpx.MockTransport), for the
pages' unit tests: one handler answers for the profile, matching and mentorship services
(told apart by the request's host)."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import httpx
from mentorship_shared.plumbing.sessions import ProfileKind
from web_service.app import create_app
from web_service.clients import ServiceApis
from web_service.config import WebSettings

from tests.support.sessions import SIGNER


@contextlib.asynccontextmanager
async def web_pages(
    handler: Callable[[httpx.Request], httpx.Response],
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the pages; the services' APIs are `handler` at http://profile,
    http://matching and http://mentorship."""
    settings = WebSettings(session_public_key=SIGNER.public_key_text, csrf_secret="s")
    apis = ServiceApis(
        profile_url="http://profile",
        matching_url="http://matching",
        mentorship_url="http://mentorship",
        timeout=5,
        frontend_key="the-frontend-key",
        transport=httpx.MockTransport(handler),
    )
    app = create_app(settings, apis=apis)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web") as client,
    ):
        yield client


def sign_in(client: httpx.AsyncClient, profile_id: uuid.UUID, kind: ProfileKind) -> str:
    """Give the client the session cookie of `profile_id`; the credential it holds."""
    credential, _ = SIGNER.issue(
        profile_id, kind, now=datetime.now(UTC), lifetime=timedelta(hours=1)
    )
    client.cookies.set("session", credential)
    return credential


def csrf_token(page: str) -> str:
    """The CSRF token of the first form of a page."""
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert found, page[:500]
    return found.group(1)
