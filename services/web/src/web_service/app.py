"""The web front end's ASGI application: pages, static files, health and metrics."""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from zoneinfo import available_timezones

import jinja2
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from mentorship_shared.plumbing.http import install_operational_routes
from mentorship_shared.plumbing.limits import RequestBodyLimit
from mentorship_shared.plumbing.sessions import public_key_from_text
from mentorship_shared.plumbing.tracing import configure_tracing, http_telemetry
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import mentorship_pages, pages
from .clients import ServiceApis
from .config import WebSettings
from .context import WebContext

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(str(resources.files(__package__)))

#: Pages load nothing from elsewhere, run only our own script, and are never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


class _SecurityHeaders:
    """Pure ASGI middleware: the same protective headers on every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    # Sign-in links carry their token in the address: never pass it on.
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def day(moment: str | None) -> str:
    """An API's date or timestamp (ISO 8601) as people write a day: 14 January 2027 (UTC)."""
    if not moment:
        return ""
    parsed = datetime.fromisoformat(moment)
    if isinstance(parsed, datetime) and parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return f"{parsed.day} {parsed:%B %Y}"


def _templates() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(PACKAGE_DIR / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["day"] = day
    return environment


def _timezones() -> list[str]:
    # Region/City names only: the old aliases (EST5EDT, US/Pacific, ...) only lengthen the list.
    regions = sorted(
        zone
        for zone in available_timezones()
        if "/" in zone and zone.split("/")[0] not in {"Etc", "SystemV", "US", "posix", "right"}
    )
    return [*regions, "UTC"]


def create_app(settings: WebSettings | None = None, *, apis: ServiceApis | None = None) -> FastAPI:
    settings = settings or WebSettings()
    if settings.csrf_secret is not None:
        csrf_secret = settings.csrf_secret.get_secret_value().encode()
    else:
        csrf_secret = secrets.token_bytes(32)
    context = WebContext(
        settings=settings,
        apis=apis
        or ServiceApis(
            profile_url=settings.profile_url,
            matching_url=settings.matching_url,
            mentorship_url=settings.mentorship_url,
            timeout=settings.api_timeout_seconds,
            frontend_key=(
                settings.frontend_key.get_secret_value() if settings.frontend_key else None
            ),
        ),
        templates=_templates(),
        csrf_secret=csrf_secret,
        public_key=(
            public_key_from_text(settings.session_public_key)
            if settings.session_public_key
            else None
        ),
        timezones=_timezones(),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tracing = configure_tracing(settings.service_name, settings)
        if settings.csrf_secret is None:
            log.warning("CSRF_SECRET is not set: forms shown by another instance are refused")
        if context.public_key is None:
            log.warning("SESSION_PUBLIC_KEY is not set: nobody can sign in")
        log.info("web started", extra={"http": settings.public_url})
        try:
            yield
        finally:
            await context.apis.aclose()
            tracing.shutdown()

    app = FastAPI(
        title="Web front end",
        description="Pages for engineers and mentors, calling the services' public APIs.",
        version="1.0.0",
        lifespan=lifespan,
        telemetry=http_telemetry(),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.web = context
    app.add_middleware(RequestBodyLimit, max_bytes=settings.max_request_body_bytes)
    app.add_middleware(_SecurityHeaders)
    install_operational_routes(app, context.apis.readiness)
    pages.install(app)
    mentorship_pages.install(app)
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")
    return app
