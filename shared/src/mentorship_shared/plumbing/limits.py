"""Abuse limits every service shares: the largest request body it reads, and who a client is.

`RequestBodyLimit` is a pure ASGI middleware. A request that announces a larger body in
Content-Length is refused before the app sees any of it; a body streamed without one
(`Transfer-Encoding: chunked`) is counted as it arrives and refused as soon as it passes the
limit, so no route ever holds more than the limit in memory. The answer is the services' JSON
error body, `payload_too_large`.

A client usually sends its whole body before it reads the answer, and a server that closes a
connection with unread data resets it, so the client would see a broken connection instead of
the 413. So the rest of a refused body, up to `drain_bytes` (1 MiB), is read and thrown away
before answering; a larger one, or one the client waits to send (`Expect: 100-continue`), is
answered at once and the connection closed.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .http import FieldError, error_response

PAYLOAD_TOO_LARGE = "payload_too_large"

#: How much of a refused body is still read (and discarded) so that the client sees the 413.
DRAIN_BYTES = 1 << 20


class _BodyTooLarge(HTTPException):
    """Raised into the app by `receive` once a streamed body passes the limit.

    An HTTPException, so FastAPI's body reader lets it through instead of calling it a
    malformed body; whatever the app answers to it is replaced by the middleware's 413.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, _message(max_bytes))


class RequestBodyLimit:
    """Refuse request bodies larger than `max_bytes` with 413 and the JSON error body."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, drain_bytes: int = DRAIN_BYTES) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        self.app = app
        self.max_bytes = max_bytes
        self.drain_bytes = drain_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = _content_length(headers)
        if declared is not None and declared > self.max_bytes:
            waiting = headers.get("expect", "").lower() == "100-continue"
            drain = not waiting and declared <= self.drain_bytes
            await self._refuse(scope, receive, send, drain=drain)
            return

        received = 0
        exceeded = False
        body_complete = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded, body_complete
            if exceeded:
                raise _BodyTooLarge(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_complete = not message.get("more_body", False)
                if received > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge(self.max_bytes)
            else:
                body_complete = True  # disconnected
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if exceeded and not response_started:
                return  # the app's answer to the refused body; ours follows
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            if response_started:
                raise
        if exceeded and not response_started:
            await self._refuse(scope, receive, send, drain=not body_complete, drained=received)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, *, drain: bool, drained: int = 0
    ) -> None:
        while drain and drained <= self.drain_bytes:
            message = await receive()
            if message["type"] != "http.request":
                break
            drained += len(message.get("body", b""))
            drain = message.get("more_body", False)
        message_text = _message(self.max_bytes)
        response = error_response(
            413, PAYLOAD_TOO_LARGE, message_text, [FieldError(field="body", message=message_text)]
        )
        # Whatever is left of the body is not read: the connection cannot be reused.
        response.headers["Connection"] = "close"
        await response(scope, receive, send)


def _message(max_bytes: int) -> str:
    return f"The request body is larger than {max_bytes} bytes, the most this service accepts."


def _content_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None  # the server refuses such a request; count what arrives anyway


def client_address(connection: HTTPConnection, trusted_proxy_hops: int = 0) -> str:
    """The address a request comes from, for limits per client.

    Without trusted proxies it is the connection's peer, which a client cannot forge. Behind
    `trusted_proxy_hops` proxies that each append the address they saw to X-Forwarded-For, it
    is the `trusted_proxy_hops`-th entry from the right: whatever a client writes into the
    header itself stays to the left of it. A header with fewer entries gives its first one.
    """
    peer = connection.client.host if connection.client else "unknown"
    if trusted_proxy_hops <= 0:
        return peer
    forwarded = [
        entry.strip()
        for header in connection.headers.getlist("x-forwarded-for")
        for entry in header.split(",")
        if entry.strip()
    ]
    if not forwarded:
        return peer
    return forwarded[-min(trusted_proxy_hops, len(forwarded))]
