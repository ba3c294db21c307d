"""A small HTTP/1.1 client for load generation: JSON POSTs and GETs over kept-alive connections.

A general client (httpx) spends 2-3 ms of CPU per request here, so one load-generator process
tops out near 300 requests a second and a benchmark would measure its own client. This one
writes the request bytes itself and reads only the status line, Content-Length and the body:
a fraction of that cost. It speaks to our own services (uvicorn), which always send
Content-Length; anything else is reported as a transport error.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any
from urllib.parse import urlsplit


class TransportError(Exception):
    """The request got no complete answer (connection refused, dropped, timed out, garbled)."""


class Response:
    """What a test or load driver reads from an answer."""

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


class KeepAliveClient:
    """Requests to one origin (``http://host:port``) over at most ``max_connections`` kept-alive
    connections; a request waits for a free connection when all are busy."""

    def __init__(self, origin: str, *, max_connections: int = 100, timeout: float = 30.0) -> None:
        parts = urlsplit(origin)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"only http://host:port origins are supported, not {origin!r}")
        self._host = parts.hostname
        self._port = parts.port or 80
        self._host_header = parts.netloc
        self._timeout = timeout
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(max_connections)
        self.connections_opened = 0

    async def post(self, url: str, *, json: Any) -> Response:
        return await self.request("POST", url, _dumps(json))

    async def get(self, url: str) -> Response:
        return await self.request("GET", url, None)

    async def request(self, method: str, url: str, body: bytes | None) -> Response:
        path = _path(url)
        head = f"{method} {path} HTTP/1.1\r\nHost: {self._host_header}\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        data = head.encode() + b"\r\n" + (body or b"")
        async with self._slots:
            connection = self._idle.pop() if self._idle else None
            try:
                if connection is None:
                    async with asyncio.timeout(self._timeout):
                        connection = await self._connect()
                async with asyncio.timeout(self._timeout):
                    response, keep = await _exchange(connection, data)
            except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as error:
                if connection is not None:
                    connection.close()
                raise TransportError(f"{method} {path}: {error!r}") from error
            if keep:
                self._idle.append(connection)
            else:
                connection.close()
            return response

    async def aclose(self) -> None:
        while self._idle:
            self._idle.pop().close()

    async def __aenter__(self) -> KeepAliveClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def _connect(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self._host, self._port)
        self.connections_opened += 1
        return _Connection(reader, writer)


async def _exchange(connection: _Connection, data: bytes) -> tuple[Response, bool]:
    """Send one request and read its answer; also says whether the connection stays open."""
    connection.writer.write(data)
    await connection.writer.drain()
    head = await connection.reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
    version, status, *_ = status_line.split(" ", 2)
    if not version.startswith("HTTP/1."):
        raise ValueError(f"not an HTTP/1.x answer: {status_line!r}")
    length: int | None = None
    keep = version == "HTTP/1.1"  # HTTP/1.1 keeps the connection unless told otherwise
    for line in header_lines:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value in ("close", "keep-alive"):
            keep = value == "keep-alive"
        elif name == "transfer-encoding":
            raise ValueError("chunked answers are not supported")
    if length is None:
        raise ValueError("an answer without Content-Length")
    content = await connection.reader.readexactly(length) if length else b""
    return Response(int(status), content), keep


def _path(url: str) -> str:
    parts = urlsplit(url)
    path = parts.path or "/"
    return f"{path}?{parts.query}" if parts.query else path


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()
