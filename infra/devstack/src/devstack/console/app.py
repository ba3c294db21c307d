"""The operator console: one web page, its JSON, and the reading of the services behind it.

`GET /` serves a static page (HTML, our own JavaScript and CSS from `static/`, no data); the
page asks for the operator key and polls `GET /v1/console`, which the console answers by
reading the services over HTTP, each time:

* the matching service's `GET /v1/operator/stats`, with the page's bearer token passed on: the
  matcher decides whether it is the operator key (401 or 403 come back to the page as they are);
* every service's `GET /metrics` (Prometheus text): mails sent and failed, outbox backlogs,
  consumer lag and dead letters. A service that does not answer is reported "unavailable"; it
  never fails the page.

The console keeps nothing and needs no key of its own: without the matcher it has no numbers
and answers 503.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Sequence
from functools import cache
from importlib import resources
from typing import Any, Literal

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from mentorship_shared.plumbing.entrypoint import serve
from mentorship_shared.plumbing.logs import configure_logging
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from devstack.console.arguments import add_console_arguments
from devstack.console.view import (
    ConsoleView,
    ServiceMetrics,
    notification_view,
    parse_metrics,
    pipeline_view,
)

__all__ = ["ConsoleSettings", "create_app", "main", "read_metrics", "run"]


class ConsoleSettings(BaseSettings):
    """Where the console listens and where the services are, from the environment."""

    model_config = SettingsConfigDict(extra="ignore", env_file=None, frozen=True)

    http_host: str = Field(default="127.0.0.1", description="Address the console listens on.")
    http_port: int = Field(default=8090, ge=1, le=65535, description="Port it listens on.")
    profile_url: str = Field(
        default="http://127.0.0.1:8001",
        description="Base URL of the profile service (its /metrics); empty: not shown.",
    )
    matching_url: str = Field(
        default="http://127.0.0.1:8002",
        description="Base URL of a matching service (its operator stats and /metrics).",
    )
    notification_url: str = Field(
        default="http://127.0.0.1:8003",
        description="Base URL of the notification service (its /metrics); empty: not shown.",
    )
    console_peer_timeout_seconds: float = Field(
        default=2.0, gt=0, le=30, description="How long to wait for a service's answer."
    )
    log_level: str = Field(default="INFO", description="Python log level name.")
    log_format: Literal["auto", "text", "json"] = Field(
        default="auto", description="'auto' is text on a terminal and JSON otherwise."
    )

    def peers(self) -> dict[str, tuple[str, str]]:
        """(base URL, the setting naming it) of every service, in the order the page shows."""
        return {
            "profile": (self.profile_url, "PROFILE_URL"),
            "matching": (self.matching_url, "MATCHING_URL"),
            "notification": (self.notification_url, "NOTIFICATION_URL"),
        }


# --- reading the services ------------------------------------------------------------------


async def read_metrics(
    client: httpx.AsyncClient, service: str, base_url: str, setting: str
) -> tuple[ServiceMetrics | None, str | None]:
    """A service's metrics, or None and why not (never raises)."""
    if not base_url.strip():
        return None, f"not configured ({setting} is empty)"
    url = f"{base_url.rstrip('/')}/metrics"
    try:
        answer = await client.get(url)
    except httpx.TimeoutException:
        return None, f"{url} did not answer within {client.timeout.read:g} s"
    except httpx.HTTPError as error:
        return None, f"{url}: {error or type(error).__name__}"
    if answer.status_code != 200:
        return None, f"{url} answered HTTP {answer.status_code}"
    try:
        return parse_metrics(answer.text, service=service), None
    except ValueError as error:
        return None, f"{url} is not Prometheus text: {error}"


def _error(status: int, error: str, message: str) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status)


async def read_console(
    client: httpx.AsyncClient, settings: ConsoleSettings, authorization: str | None
) -> ConsoleView | JSONResponse:
    """The page's numbers, or the error the page shows (the matcher's 401/403 as they are)."""
    peers = settings.peers()
    metrics = asyncio.gather(
        *(read_metrics(client, name, url, setting) for name, (url, setting) in peers.items())
    )
    matching_url = settings.matching_url.rstrip("/")
    try:
        stats = await client.get(
            f"{matching_url}/v1/operator/stats",
            headers={"Authorization": authorization} if authorization else {},
        )
    except httpx.HTTPError as error:
        await metrics
        return _error(
            503,
            "matching_unavailable",
            f"The matching service ({matching_url}) does not answer: "
            f"{error or type(error).__name__}.",
        )
    read = dict(zip(peers, await metrics, strict=True))
    if stats.status_code in (401, 403):
        try:
            refusal = stats.json()
        except ValueError:
            refusal = {"error": "forbidden", "message": "This needs the operator key."}
        return JSONResponse(refusal, status_code=stats.status_code)
    if stats.status_code != 200:
        return _error(
            502,
            "matching_failed",
            f"The matching service answered HTTP {stats.status_code} for its operator stats.",
        )
    numbers: dict[str, Any] = stats.json()
    notification, notification_detail = read["notification"]
    return ConsoleView(
        **numbers,
        notifications=notification_view(notification, notification_detail),
        pipeline=[pipeline_view(name, found, detail) for name, (found, detail) in read.items()],
    )


# --- the app -------------------------------------------------------------------------------

_STATIC_TYPES = {
    "console.html": "text/html; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
#: Only our own files: no inline script or style, no other origin.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@cache
def _static(name: str) -> bytes:
    return (resources.files(__package__) / "static" / name).read_bytes()


def _static_response(name: str) -> Response:
    return Response(
        content=_static(name),
        media_type=_STATIC_TYPES[name],
        headers={
            "Content-Security-Policy": _CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )


def create_app(
    settings: ConsoleSettings | None = None, *, transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """The console's app; ``transport`` carries its requests to the services (the network by
    default; a test routes some of them to an app in its own process)."""
    settings = settings or ConsoleSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # No proxy from the environment: the services are on loopback or the same network.
        async with httpx.AsyncClient(
            timeout=settings.console_peer_timeout_seconds, trust_env=False, transport=transport
        ) as client:
            app.state.client = client
            yield

    app = FastAPI(
        title="Operator console",
        description=(
            "The operator's page of the mentorship system: the matcher's numbers and every "
            "service's mail and pipeline figures, read over HTTP."
        ),
        lifespan=lifespan,
    )

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        """The page; it holds no data (the numbers need the operator key)."""
        return _static_response("console.html")

    @app.get("/console.js", include_in_schema=False)
    async def script() -> Response:
        return _static_response("console.js")

    @app.get("/console.css", include_in_schema=False)
    async def style() -> Response:
        return _static_response("console.css")

    @app.get(
        "/v1/console",
        summary="Everything the page draws (operator key, checked by the matching service)",
        response_model=ConsoleView,
    )
    async def console(request: Request) -> ConsoleView | JSONResponse:
        return await read_console(
            request.app.state.client, settings, request.headers.get("authorization")
        )

    @app.get("/healthz", include_in_schema=False)
    @app.get("/readyz", include_in_schema=False)
    async def healthy() -> dict[str, str]:
        return {"status": "ok"}

    return app


# --- the command ---------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    overrides = {
        field: value
        for field, value in (
            ("http_host", args.host),
            ("http_port", args.port),
            ("profile_url", args.profile_url),
            ("matching_url", args.matching_url),
            ("notification_url", args.notification_url),
        )
        if value is not None
    }
    try:
        settings = ConsoleSettings(**overrides)
    except ValidationError as error:
        print(f"invalid configuration:\n{error}", file=sys.stderr)
        return 2
    configure_logging("console", settings.log_level, settings.log_format)
    serve(create_app(settings), settings.http_host, settings.http_port)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.console",
        description=(
            "Serve the operator console: a page with the matcher's numbers (mentees waiting, "
            "mentor load, proposals, skills in demand) and every service's mail and pipeline "
            "figures, read over HTTP. The page asks for the operator key and the matching "
            "service checks it."
        ),
    )
    add_console_arguments(parser)
    return run(parser.parse_args(argv))
