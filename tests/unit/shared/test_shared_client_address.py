"""Who a client is, for limits per client address: the peer, or behind trusted proxies the
X-Forwarded-For entry the outermost of them added."""

from __future__ import annotations

import pytest
from mentorship_shared.plumbing.limits import client_address
from starlette.requests import Request


def request(peer: str | None, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": headers,
        "client": (peer, 40000) if peer else None,
    }
    return Request(scope)


def test_without_trusted_proxies_the_peer_counts_and_the_header_is_ignored() -> None:
    assert client_address(request("198.51.100.4", "203.0.113.9")) == "198.51.100.4"
    assert client_address(request("198.51.100.4", "203.0.113.9"), 0) == "198.51.100.4"


@pytest.mark.parametrize(
    ("hops", "forwarded", "expected"),
    [
        (1, ["203.0.113.9"], "203.0.113.9"),
        # A client's own forged entries stay left of what the trusted proxy appended.
        (1, ["6.6.6.6, 203.0.113.9"], "203.0.113.9"),
        (2, ["6.6.6.6, 203.0.113.9, 10.0.0.2"], "203.0.113.9"),
        # Several header lines are one list, in order.
        (2, ["6.6.6.6", "203.0.113.9", "10.0.0.2"], "203.0.113.9"),
        # Fewer entries than proxies: the first one.
        (3, ["203.0.113.9, 10.0.0.2"], "203.0.113.9"),
        (1, [" 2001:db8::1 "], "2001:db8::1"),
    ],
)
def test_behind_trusted_proxies_the_outermost_proxys_entry_counts(
    hops: int, forwarded: list[str], expected: str
) -> None:
    assert client_address(request("10.0.0.1", *forwarded), hops) == expected


def test_behind_proxies_without_a_header_the_peer_counts() -> None:
    assert client_address(request("10.0.0.1"), 1) == "10.0.0.1"
    assert client_address(request("10.0.0.1", " , "), 1) == "10.0.0.1"


def test_a_connection_without_a_peer_has_one_address_for_all() -> None:
    assert client_address(request(None)) == "unknown"
