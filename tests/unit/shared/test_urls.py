"""Links users supply are public https links: every class of local address is refused, as
literal or through what a name resolves to. DNS is always faked: no test depends on it."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable

import pytest
from mentorship_shared.plumbing.urls import (
    MAX_URL_LENGTH,
    Resolver,
    UrlRefused,
    check_public_url,
    check_public_url_async,
    refusal_reason,
    url_host,
)

PUBLIC = "https://93.184.215.14/cal"


class Answers:
    """A resolver that answers every name with the same addresses and records the names."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.asked: list[str] = []

    def __call__(self, host: str) -> Iterable[str]:
        self.asked.append(host)
        return self.addresses


def fake(*addresses: str) -> Resolver:
    return Answers(*addresses)


def no_such_name(_host: str) -> Iterable[str]:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def must_not_resolve(host: str) -> Iterable[str]:
    raise AssertionError(f"{host} was resolved, but the check needs no DNS")


def refused(url: str, *, resolve: bool = True, resolver: Resolver | None = None) -> str:
    with pytest.raises(UrlRefused) as caught:
        check_public_url(url, resolve=resolve, resolver=resolver)
    return str(caught.value)


# --- accepted --------------------------------------------------------------------------------


def test_a_public_ip_literal_is_accepted_without_any_lookup() -> None:
    assert check_public_url(PUBLIC, resolver=must_not_resolve) == PUBLIC


def test_a_public_ipv6_literal_is_accepted() -> None:
    url = "https://[2606:4700:4700::1111]/book"
    assert check_public_url(url, resolver=must_not_resolve) == url


def test_a_name_resolving_only_to_public_addresses_is_accepted() -> None:
    resolver = Answers("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c")
    url = "https://cal.example.com/priya?week=1#slots"
    assert check_public_url(url, resolver=resolver) == url
    assert resolver.asked == ["cal.example.com"]


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("HTTPS://93.184.215.14/Cal", "https://93.184.215.14/Cal"),
        ("HtTpS://Cal.Example.COM/Priya", "https://cal.example.com/Priya"),
        ("https://cal.example.com./priya", "https://cal.example.com/priya"),
        ("https://cal.example.com:443/priya", "https://cal.example.com:443/priya"),
        ("https://bücher.example.de/x", "https://xn--bcher-kva.example.de/x"),
    ],
)
def test_scheme_and_host_are_normalised_the_rest_kept(given: str, normalised: str) -> None:
    assert check_public_url(given, resolver=fake("93.184.215.14")) == normalised


def test_without_resolving_a_name_is_checked_by_its_spelling_only() -> None:
    assert check_public_url("https://cal.example.com/x", resolve=False) == (
        "https://cal.example.com/x"
    )


def test_an_ipv4_mapped_public_address_is_accepted() -> None:
    check_public_url("https://[::ffff:93.184.215.14]/cal", resolve=False)


# --- refused: the link itself ----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.215.14/cal",
        "HTTP://93.184.215.14/cal",
        "ftp://93.184.215.14/cal",
        "javascript:alert(1)",
        "//93.184.215.14/cal",
        "93.184.215.14/cal",
    ],
)
def test_only_https_is_accepted(url: str) -> None:
    assert "https://" in refused(url, resolve=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pw@93.184.215.14/cal",
        "https://user@93.184.215.14/cal",
        "https://93.184.215.14@127.0.0.1/",
        "https://cal.example.com@10.0.0.5/",
    ],
)
def test_a_user_name_or_password_is_refused(url: str) -> None:
    assert "user name or password" in refused(url, resolve=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.215.14/cal x",
        "https://93.184.215.14/cal\nBcc: x@example.com",
        "https://93.184.215.14/\tcal",
        " https://93.184.215.14/cal",
    ],
)
def test_spaces_and_control_characters_are_refused(url: str) -> None:
    assert "control characters" in refused(url, resolve=False)


def test_a_backslash_is_refused() -> None:
    assert "backslash" in refused("https://93.184.215.14\\@127.0.0.1/", resolve=False)


def test_the_length_is_limited() -> None:
    base = "https://93.184.215.14/"
    longest = base + "a" * (MAX_URL_LENGTH - len(base))
    assert check_public_url(longest, resolve=False) == longest
    assert "longer than 500" in refused(longest + "a", resolve=False)


@pytest.mark.parametrize(
    "url",
    ["", "https://", "https:///cal", "https://:443/cal", "https://[::1/", "https://a..b/"],
)
def test_a_link_without_a_usable_host_is_refused(url: str) -> None:
    refused(url, resolve=False)


def test_an_invalid_port_is_refused() -> None:
    refused("https://93.184.215.14:99999/cal", resolve=False)
    refused("https://93.184.215.14:0/cal", resolve=False)


# --- refused: local names --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://localhost/cal",
        "https://LOCALHOST/cal",
        "https://localhost./cal",
        "https://api.localhost/cal",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://metadata.google.internal./computeMetadata/v1/",
        "https://metadata/computeMetadata/v1/",
        "https://instance-data/latest/meta-data/",
        "https://printer.local/",
        "https://router.home.arpa/",
        "https://kafka/",
        "https://calendar.invalid/x",
        "https://calendar.test/x",
    ],
)
def test_local_and_reserved_names_are_refused_without_a_lookup(url: str) -> None:
    assert "local name" in refused(url, resolver=must_not_resolve)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.1/",
        "https://2130706433/",
        "https://0x7f000001/",
        "https://0x7f.0.0.1/",
        "https://0177.0.0.1/",
        "https://10.1/",
    ],
)
def test_ip_addresses_in_legacy_spellings_are_refused(url: str) -> None:
    # Resolvers read these as 127.0.0.1 or 10.0.0.1; Python's ipaddress does not.
    refused(url, resolver=must_not_resolve)


# --- refused: addresses ----------------------------------------------------------------------

REFUSED_ADDRESSES = {
    "127.0.0.1": "loopback",
    "127.255.0.9": "loopback",
    "::1": "loopback",
    "10.0.0.5": "private",
    "172.16.3.4": "private",
    "192.168.1.1": "private",
    "fc00::1": "private",
    "fd12:3456::1": "private",
    "169.254.169.254": "metadata",
    "169.254.1.1": "link-local",
    "fe80::1": "link-local",
    "fd00:ec2::254": "metadata",
    "100.100.100.200": "metadata",
    "100.64.0.1": "carrier-grade NAT",
    "100.127.255.254": "carrier-grade NAT",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "ff02::1": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "192.0.2.10": "private",
    "198.18.0.1": "private",
    "fec0::1": "site-local",
    "::ffff:127.0.0.1": "loopback",
    "::ffff:10.0.0.5": "private",
    "::ffff:169.254.169.254": "metadata",
    "::ffff:100.64.0.1": "carrier-grade NAT",
    "2002:7f00:1::": "loopback",
    "2002:a00:5::": "private",
    "64:ff9b::a9fe:a9fe": "metadata",
    "64:ff9b::7f00:1": "loopback",
    "::7f00:1": "reserved",
    "2001:db8::1": "private",
}


@pytest.mark.parametrize(("address", "kind"), sorted(REFUSED_ADDRESSES.items()))
def test_every_non_public_address_is_refused_as_a_literal(address: str, kind: str) -> None:
    host = f"[{address}]" if ":" in address else address
    message = refused(f"https://{host}/cal", resolver=must_not_resolve)
    assert kind in message
    assert "public" in message


@pytest.mark.parametrize(("address", "kind"), sorted(REFUSED_ADDRESSES.items()))
def test_every_non_public_address_is_refused_when_a_name_resolves_to_it(
    address: str, kind: str
) -> None:
    message = refused("https://cal.example.com/x", resolver=fake(address))
    assert f"resolves to {ipaddress.ip_address(address)}" in message
    assert kind in message


@pytest.mark.parametrize("address", sorted(REFUSED_ADDRESSES))
def test_refusal_reason_names_every_non_public_address(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:93.184.215.14"]
)
def test_refusal_reason_passes_public_addresses(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


def test_a_zone_index_is_refused() -> None:
    assert "zone" in refused("https://[fe80::1%25eth0]/", resolve=False)


# --- refused: what a name resolves to --------------------------------------------------------


def test_dns_rebinding_to_a_private_address_is_refused() -> None:
    message = refused("https://cal.example.com/x", resolver=fake("10.0.0.1"))
    assert "cal.example.com resolves to 10.0.0.1" in message


def test_one_private_answer_among_public_ones_is_enough_to_refuse() -> None:
    refused("https://cal.example.com/x", resolver=fake("93.184.215.14", "127.0.0.1"))


def test_a_scoped_answer_is_judged_by_its_address() -> None:
    refused("https://cal.example.com/x", resolver=fake("fe80::1%eth0"))


def test_a_name_that_does_not_resolve_is_refused() -> None:
    assert "does not resolve" in refused("https://no-such.example.com/x", resolver=no_such_name)


def test_a_name_resolving_to_nothing_is_refused() -> None:
    assert "does not resolve" in refused("https://empty.example.com/x", resolver=fake())


def test_without_resolving_a_name_that_would_rebind_passes_the_first_check() -> None:
    # The spelling alone cannot tell: the send-time check, which resolves, catches it.
    check_public_url("https://cal.example.com/x", resolve=False)
    refused("https://cal.example.com/x", resolver=fake("10.0.0.1"))


# --- async -----------------------------------------------------------------------------------


async def test_async_check_accepts_a_public_literal_without_a_lookup() -> None:
    async def never(host: str) -> Iterable[str]:
        raise AssertionError(host)

    assert await check_public_url_async(PUBLIC, resolver=never) == PUBLIC


async def test_async_check_refuses_rebinding_through_its_resolver() -> None:
    async def rebinding(_host: str) -> Iterable[str]:
        return ["93.184.215.14", "169.254.169.254"]

    with pytest.raises(UrlRefused, match="metadata"):
        await check_public_url_async("https://cal.example.com/x", resolver=rebinding)


async def test_async_check_refuses_a_name_that_does_not_resolve() -> None:
    async def nothing(_host: str) -> Iterable[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(UrlRefused, match="does not resolve"):
        await check_public_url_async("https://no-such.example.com/x", resolver=nothing)


async def test_async_check_refuses_a_lookup_that_takes_too_long() -> None:
    never_answers = asyncio.Event()

    async def hanging(_host: str) -> Iterable[str]:
        await never_answers.wait()
        return []

    with pytest.raises(UrlRefused, match="in time"):
        await check_public_url_async("https://slow.example.com/x", resolver=hanging, timeout=0.05)


async def test_async_check_refuses_the_link_itself_before_any_lookup() -> None:
    async def never(host: str) -> Iterable[str]:
        raise AssertionError(host)

    for url in ("http://93.184.215.14/", "https://localhost/", "https://10.0.0.5/"):
        with pytest.raises(UrlRefused):
            await check_public_url_async(url, resolver=never)


# --- url_host ---------------------------------------------------------------------------------


def test_url_host_gives_only_the_host_for_logs() -> None:
    assert url_host("https://cal.example.com/priya-pricing?email=p@example.com") == (
        "cal.example.com"
    )
    assert url_host("https://[::1/") == "?"
    assert url_host("not a link") == "?"
