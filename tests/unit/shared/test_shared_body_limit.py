"""The request body limit: announced or streamed, a body above MAX_REQUEST_BODY_BYTES gets 413
with the JSON error body and never reaches the route; a body of exactly the limit does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from mentorship_shared.plumbing.http import install_error_handlers
from mentorship_shared.plumbing.limits import RequestBodyLimit
from mentorship_shared.plumbing.runtime import ServiceRuntime, create_service_app
from mentorship_shared.plumbing.settings import ServiceSettings
from pydantic import BaseModel

LIMIT = 100


class Note(BaseModel):
    text: str


def build_app(seen: list[int], *, limit: int = LIMIT) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestBodyLimit, max_bytes=limit)

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        body = await request.body()
        seen.append(len(body))
        return {"bytes": len(body)}

    @app.post("/stream")
    async def stream(request: Request) -> dict[str, int]:
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
        seen.append(total)
        return {"bytes": total}

    @app.post("/notes")
    async def notes(note: Note) -> dict[str, int]:
        seen.append(len(note.text))
        return {"chars": len(note.text)}

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    return app


@pytest.fixture
def seen() -> list[int]:
    return []


@pytest.fixture
async def client(seen: list[int]) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(seen))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as test_client:
        yield test_client


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def assert_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    body = response.json()
    assert body["error"] == "payload_too_large"
    assert str(LIMIT) in body["message"]
    assert [field["field"] for field in body["fields"]] == ["body"]


@pytest.mark.parametrize("path", ["/raw", "/stream", "/notes"])
async def test_a_body_announced_above_the_limit_is_refused_unread(
    client: httpx.AsyncClient, seen: list[int], path: str
) -> None:
    response = await client.post(path, content=b"x" * (LIMIT + 1))

    assert_too_large(response)
    assert seen == []


@pytest.mark.parametrize("path", ["/raw", "/stream", "/notes"])
async def test_a_streamed_body_is_counted_and_refused_past_the_limit(
    client: httpx.AsyncClient, seen: list[int], path: str
) -> None:
    request = client.build_request("POST", path, content=chunks(b"a" * 60, b"b" * 60, b"c" * 60))
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"

    response = await client.send(request)

    assert_too_large(response)
    assert seen == []


async def test_a_lying_content_length_does_not_let_a_larger_body_through(
    seen: list[int],
) -> None:
    app = RequestBodyLimit(build_app(seen, limit=LIMIT * 10), max_bytes=LIMIT)
    messages = [
        {"type": "http.request", "body": b"x" * 80, "more_body": True},
        {"type": "http.request", "body": b"x" * 80, "more_body": False},
    ]
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/raw",
        "raw_path": b"/raw",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), (b"content-length", b"10")],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    await app(scope, receive, send)

    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [413]
    assert seen == []


@pytest.mark.parametrize("path", ["/raw", "/stream"])
async def test_a_body_of_exactly_the_limit_passes(
    client: httpx.AsyncClient, seen: list[int], path: str
) -> None:
    announced = await client.post(path, content=b"x" * LIMIT)
    streamed = await client.post(path, content=chunks(b"x" * 50, b"y" * 50))

    assert announced.status_code == 200, announced.text
    assert streamed.status_code == 200, streamed.text
    assert announced.json() == streamed.json() == {"bytes": LIMIT}
    assert seen == [LIMIT, LIMIT]


async def test_small_json_bodies_and_bodiless_requests_are_untouched(
    client: httpx.AsyncClient, seen: list[int]
) -> None:
    assert (await client.post("/notes", json={"text": "hello"})).json() == {"chars": 5}
    assert (await client.get("/ping")).json() == {"status": "ok"}
    invalid = await client.post("/notes", json={"text": 5})
    assert invalid.status_code == 422
    assert invalid.json()["error"] == "invalid_request"


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        RequestBodyLimit(FastAPI(), max_bytes=0)


async def test_every_service_app_has_the_limit_of_its_settings(tmp_path: Path) -> None:
    settings = ServiceSettings(
        service_name="limits-test",
        database_url="postgresql://nobody@localhost/unused",
        http_port=1,
        max_request_body_bytes=LIMIT,
    )
    router = APIRouter()
    received: list[int] = []

    @router.post("/echo")
    async def echo(note: Note) -> dict[str, int]:
        received.append(len(note.text))
        return {"chars": len(note.text)}

    # The app is never started: the route needs neither the database nor the broker.
    app = create_service_app(
        ServiceRuntime(settings, migrations_dir=tmp_path),
        title="t",
        description="t",
        routers=[router],
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        small = await client.post("/echo", json={"text": "x" * (LIMIT - 20)})
        large = await client.post("/echo", json={"text": "x" * LIMIT})

    assert small.status_code == 200, small.text
    assert_too_large(large)
    assert received == [LIMIT - 20]
    documented = app.openapi()["paths"]["/echo"]["post"]["responses"]["413"]
    assert documented["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }
