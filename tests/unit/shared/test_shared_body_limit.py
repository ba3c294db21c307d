"""The request body limit: announced or streamed, a body above MAX_REQUEST_BODY_BYTES gets 413
with the JSON error body and never reaches the route; a body of exactly the limit does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from mentorship_shared.plumbing.http import install_error_handlers
from mentorship_shared.plumbing.limits import RequestBodyLimit
from mentorship_shared.plumbing.runtime import ServiceRuntime, create_service_app
from mentorship_shared.plumbing.settings import ServiceSettings
from mentorship_shared.plumbing.unit_of_work import UnitOfWork
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


class RawExchange:
    """One request straight through the ASGI interface: what the app read and answered."""

    def __init__(self, headers: dict[str, str], chunks: list[bytes]) -> None:
        self.headers = headers
        self.chunks = list(chunks)
        self.read = 0  # messages the app (or the middleware) took
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        # A server has nothing more to give once the body is complete: it would wait for the
        # client to disconnect. A middleware that asks for more would hang; here it fails.
        assert self.read < len(self.chunks), "receive() called after the whole body was read"
        self.read += 1
        more = self.read < len(self.chunks)
        return {"type": "http.request", "body": self.chunks[self.read - 1], "more_body": more}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def run(self, app: Any, path: str = "/raw") -> int:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"test")]
            + [(k.lower().encode(), v.encode()) for k, v in self.headers.items()],
            "client": ("127.0.0.1", 1),
            "server": ("test", 80),
        }
        await app(scope, self.receive, self.send)
        [start] = [m for m in self.sent if m["type"] == "http.response.start"]
        status: int = start["status"]
        return status


def limited(seen: list[int], *, drain_bytes: int = 1000) -> RequestBodyLimit:
    # The inner app has a generous limit of its own: only the outer one is under test.
    return RequestBodyLimit(
        build_app(seen, limit=LIMIT * 100), max_bytes=LIMIT, drain_bytes=drain_bytes
    )


async def test_a_lying_content_length_does_not_let_a_larger_body_through(
    seen: list[int],
) -> None:
    exchange = RawExchange({"content-length": "10"}, [b"x" * 80, b"x" * 80])

    assert await exchange.run(limited(seen)) == 413
    assert seen == []


async def test_the_rest_of_a_refused_body_is_read_so_the_client_sees_the_answer(
    seen: list[int],
) -> None:
    announced = RawExchange({"content-length": "600"}, [b"x" * 200] * 3)
    streamed = RawExchange({"transfer-encoding": "chunked"}, [b"x" * 60] * 10)

    assert await announced.run(limited(seen)) == 413
    assert await streamed.run(limited(seen)) == 413
    assert (announced.read, streamed.read) == (3, 10)
    assert seen == []


async def test_a_refused_body_is_read_no_further_than_the_drain_allowance(
    seen: list[int],
) -> None:
    announced_huge = RawExchange({"content-length": "600"}, [b"x" * 200] * 3)
    streamed_huge = RawExchange({"transfer-encoding": "chunked"}, [b"x" * 60] * 50)
    waiting = RawExchange({"content-length": "600", "expect": "100-continue"}, [b"x" * 600])

    assert await announced_huge.run(limited(seen, drain_bytes=500)) == 413
    assert await streamed_huge.run(limited(seen, drain_bytes=500)) == 413
    assert await waiting.run(limited(seen)) == 413
    assert announced_huge.read == 0  # announced above the allowance: nothing is read
    assert streamed_huge.read == 9  # 540 bytes, just past the allowance
    assert waiting.read == 0  # the client has not sent it yet, and need not
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
        ServiceRuntime(
            settings, uow=UnitOfWork.of(settings, lambda conn: conn), migrations_dir=tmp_path
        ),
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
