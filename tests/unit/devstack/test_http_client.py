"""The load generator's HTTP/1.1 client against a real socket server on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from devstack.http_client import KeepAliveClient, TransportError

Reply = Callable[[bytes], bytes | None]


def answer(status: int, body: bytes, *extra: str) -> bytes:
    head = [f"HTTP/1.1 {status} X", f"content-length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class Server:
    """Reads one request at a time per connection and writes what `reply` returns (None: hang
    up without answering)."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.connections = 0
        self.requests: list[bytes] = []
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.decode().split("\r\n"):
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":")[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                response = self.reply(request)
                if response is None:
                    return
                writer.write(response)
                await writer.drain()
        except asyncio.IncompleteReadError:
            return
        finally:
            writer.close()


Serve = Callable[[Reply], Awaitable["Server"]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    servers: list[asyncio.Server] = []

    async def start(reply: Reply) -> Server:
        server = Server(reply)
        listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        server.port = listener.sockets[0].getsockname()[1]
        servers.append(listener)
        return server

    yield start
    for listener in servers:
        listener.close()
        await listener.wait_closed()


async def test_requests_in_a_row_share_one_connection_and_bodies_round_trip(serve: Serve) -> None:
    def echo(request: bytes) -> bytes:
        body = request.split(b"\r\n\r\n", 1)[1]
        return answer(201, body or b"{}")

    server = await serve(echo)
    async with KeepAliveClient(f"http://127.0.0.1:{server.port}") as client:
        for number in range(5):
            response = await client.post(
                f"http://127.0.0.1:{server.port}/v1/x?n=1", json={"n": number}
            )
            assert response.status_code == 201
            assert response.json() == {"n": number}
        assert (await client.get(f"http://127.0.0.1:{server.port}/ping")).status_code == 201
    assert server.connections == 1
    assert server.requests[0].startswith(b"POST /v1/x?n=1 HTTP/1.1\r\n")
    assert b"Content-Type: application/json" in server.requests[0]
    assert json.loads(server.requests[0].split(b"\r\n\r\n")[1]) == {"n": 0}
    assert server.requests[-1].startswith(b"GET /ping HTTP/1.1\r\n")


async def test_concurrent_requests_open_at_most_max_connections(serve: Serve) -> None:
    server = await serve(lambda _: answer(200, b"ok"))
    async with KeepAliveClient(f"http://127.0.0.1:{server.port}", max_connections=3) as client:
        answers = await asyncio.gather(
            *(client.get(f"http://127.0.0.1:{server.port}/") for _ in range(20))
        )
    assert [a.text for a in answers] == ["ok"] * 20
    assert 1 <= server.connections <= 3


async def test_connection_close_is_honoured(serve: Serve) -> None:
    server = await serve(lambda _: answer(200, b"ok", "connection: close"))
    async with KeepAliveClient(f"http://127.0.0.1:{server.port}") as client:
        for _ in range(3):
            assert (await client.get(f"http://127.0.0.1:{server.port}/")).text == "ok"
    assert server.connections == 3


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(lambda _: None, id="hang-up"),
        pytest.param(lambda _: b"HTTP/1.1 200 OK\r\n\r\nno length", id="no-content-length"),
        pytest.param(lambda _: b"SMTP 220 hello\r\n\r\n", id="not-http"),
    ],
)
async def test_an_answer_that_is_not_complete_http_is_a_transport_error(
    serve: Serve, reply: Reply
) -> None:
    server = await serve(reply)
    async with KeepAliveClient(f"http://127.0.0.1:{server.port}", timeout=2) as client:
        with pytest.raises(TransportError):
            await client.get(f"http://127.0.0.1:{server.port}/")


async def test_a_refused_connection_is_a_transport_error() -> None:
    async with KeepAliveClient("http://127.0.0.1:1", timeout=2) as closed:
        with pytest.raises(TransportError):
            await closed.get("http://127.0.0.1:1/")
