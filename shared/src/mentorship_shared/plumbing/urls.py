"""Links people give us (a mentor's booking link) that we pass on: public https only.

A link a user supplies must never point into our own network: not at loopback, private,
link-local (the cloud metadata service at 169.254.169.254 lives there), carrier-grade NAT,
multicast, reserved or unspecified addresses, nor at local-only names such as `localhost` or
`metadata.google.internal`. The check runs twice: when the link is registered, and again right
before it is used, because what a name resolves to can change in between (DNS rebinding).

Only `https` is accepted. The links travel by mail to people who click them; plain `http`
would let anyone on the way read or rewrite the page behind the link, and every scheduling
tool (Calendly, cal.com, Google Calendar, Microsoft Bookings) serves https anyway.

`check_public_url` is synchronous (for validators: with `resolve=False` it does no I/O);
`check_public_url_async` resolves the host without blocking the event loop and with a
timeout. Both take an injectable resolver, so tests never depend on public DNS.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import SplitResult, urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Longest link accepted, in characters.
MAX_URL_LENGTH = 500
#: How long the async check waits for DNS before refusing the link.
RESOLVE_TIMEOUT_SECONDS = 3.0

#: host name -> the addresses it resolves to (as strings). Raises OSError if it does not.
Resolver = Callable[[str], Iterable[str]]
AsyncResolver = Callable[[str], Awaitable[Iterable[str]]]

_ADVICE = "use the public https:// link your scheduling tool gives you"

# Names that only ever mean something inside a network, never a public website.
_METADATA_HOSTS = frozenset(
    {"metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"}
)
_LOCAL_SUFFIXES = frozenset(
    {
        "localhost",  # RFC 6761
        "localdomain",
        "local",  # mDNS, RFC 6762
        "internal",  # reserved by ICANN for private use
        "intranet",
        "lan",
        "home",
        "corp",
        "private",
        "home.arpa",  # RFC 8375
        "arpa",  # reverse-lookup names, never a website
        "invalid",  # RFC 2606 / 6761
        "test",
        "example",
        "onion",
    }
)
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# A last label that is a number (or hex) makes the name an IP address in a legacy spelling
# ("127.1", "0x7f.0.0.1", "2130706433"), which resolvers turn into that address.
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
# AWS, GCP and Azure answer at 169.254.169.254 (AWS also at fd00:ec2::254), Alibaba Cloud at
# 100.100.100.200: all in ranges refused anyway, named here for a clearer message.
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(text) for text in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class UrlRefused(ValueError):
    """The link is not a public https link; the message says why and what to do."""


def check_public_url(url: str, *, resolve: bool = True, resolver: Resolver | None = None) -> str:
    """The link, normalised (lower-case scheme and host, no trailing dot), if it is a public
    https link; raises UrlRefused otherwise.

    With `resolve=False` only the link itself is checked (no I/O): an IP literal must be
    public and a name must not be a local one, but what the name resolves to is not known.
    With `resolve=True` the name is resolved (`resolver`, default `socket.getaddrinfo`, which
    blocks: in async code use `check_public_url_async`) and every address must be public.
    """
    normalised, host, address = _parse(url)
    if address is None and resolve:
        try:
            found = list((resolver or _system_resolve)(host))
        except OSError as error:
            raise _unresolvable(host) from error
        _check_resolved(host, found)
    return normalised


async def check_public_url_async(
    url: str,
    *,
    resolver: AsyncResolver | None = None,
    timeout: float = RESOLVE_TIMEOUT_SECONDS,
) -> str:
    """`check_public_url` with the name resolved without blocking the event loop; a name that
    does not resolve within `timeout` seconds is refused."""
    normalised, host, address = _parse(url)
    if address is None:
        try:
            async with asyncio.timeout(timeout):
                found = list(await (resolver or _system_resolve_async)(host))
        except TimeoutError as error:
            raise UrlRefused(
                f"the host {host} could not be looked up in time; check the link or try again"
            ) from error
        except OSError as error:
            raise _unresolvable(host) from error
        _check_resolved(host, found)
    return normalised


def url_host(url: str) -> str:
    """The host of a link, for logs (the rest of a link can name a person); '?' if none."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return "?"
    return host or "?"


def refusal_reason(address: IPAddress) -> str | None:
    """Why an address is not a public one (such as 'a private'), or None if it is public."""
    if address in _METADATA_ADDRESSES:
        return "the cloud metadata service's"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = refusal_reason(embedded)
            return None if reason is None else f"{reason} (it stands for {embedded})"
        if address in _NAT64_LOCAL:
            return "a private"
        if address.is_site_local:
            return "a site-local"
        if address in _IPV4_COMPATIBLE and not address.is_unspecified and not address.is_loopback:
            return "a reserved"
    if address.is_unspecified:
        return "an unspecified"
    if address.is_loopback:
        return "a loopback"
    if address.is_link_local:
        return "a link-local"
    if address.is_multicast:
        return "a multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "a carrier-grade NAT"
    if address.is_reserved:
        return "a reserved"
    if address.is_private:
        return "a private"
    if not address.is_global:
        return "a non-public"
    return None


# --- parts -----------------------------------------------------------------------------------


def _parse(url: str) -> tuple[str, str, IPAddress | None]:
    """(normalised link, host, the host's address if it is an IP literal); raises UrlRefused."""
    if not isinstance(url, str) or not url:
        raise UrlRefused(f"the link is empty; {_ADVICE}")
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"the link is longer than {MAX_URL_LENGTH} characters; {_ADVICE}")
    if any(char.isspace() or ord(char) < 0x20 or ord(char) == 0x7F for char in url):
        raise UrlRefused("the link must not contain spaces, line breaks or control characters")
    if "\\" in url:
        # Browsers read a backslash as a slash, other parsers do not: the host they see differs.
        raise UrlRefused("the link must not contain backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UrlRefused(f"the link cannot be read ({error}); {_ADVICE}") from error
    if parts.scheme.lower() != "https":
        raise UrlRefused(
            "the link must start with https:// (plain http:// and other schemes are refused, "
            "so nobody on the way can read or change the page it opens)"
        )
    if "@" in parts.netloc:
        raise UrlRefused(
            "the link must not contain a user name or password (an '@' before the host)"
        )
    raw_host = parts.hostname
    if not raw_host:
        raise UrlRefused(f"the link has no host, such as cal.example.com; {_ADVICE}")
    if port == 0:
        raise UrlRefused("the link's port must not be 0")
    host, address = _host(raw_host)
    return _rebuild(parts, host, port, address), host, address


def _host(raw: str) -> tuple[str, IPAddress | None]:
    """The host in normal form and its address if it is an IP literal; raises UrlRefused."""
    host = raw.lower()
    if host.endswith(".") and not host.endswith(".."):
        host = host[:-1]  # 'localhost.' is localhost
    if "%" in host:
        raise UrlRefused(
            f"the host {host} names a network interface (a '%' zone), which only "
            f"means something on one machine; {_ADVICE}"
        )
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        reason = refusal_reason(address)
        if reason is not None:
            raise UrlRefused(f"{host} is {reason} address, not a public one; {_ADVICE}")
        return str(address), address
    try:
        ascii_host = host if host.isascii() else host.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise UrlRefused(f"the host name {host!r} is not valid; {_ADVICE}") from error
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise UrlRefused(f"the host name {host!r} is not valid; {_ADVICE}")
    if _NUMERIC_LABEL.match(labels[-1]):
        raise UrlRefused(
            f"the host {host} looks like an IP address in an unusual spelling; write a public "
            "host name instead"
        )
    if ascii_host in _METADATA_HOSTS or len(labels) < 2 or _local_suffix(labels):
        raise UrlRefused(f"the host {ascii_host} is a local name, not a public website; {_ADVICE}")
    return ascii_host, None


def _local_suffix(labels: list[str]) -> bool:
    return any(".".join(labels[-size:]) in _LOCAL_SUFFIXES for size in (1, 2))


def _rebuild(parts: SplitResult, host: str, port: int | None, address: IPAddress | None) -> str:
    shown = f"[{host}]" if isinstance(address, ipaddress.IPv6Address) else host
    netloc = f"{shown}:{port}" if port is not None else shown
    return urlunsplit(("https", netloc, parts.path, parts.query, parts.fragment))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, 6to4, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _check_resolved(host: str, found: list[str]) -> None:
    """Refuse the link if the name resolved to nothing or to any address that is not public:
    one private answer among public ones is enough to be sent there."""
    if not found:
        raise _unresolvable(host)
    for text in found:
        try:
            address = ipaddress.ip_address(text.split("%", 1)[0])
        except ValueError as error:
            raise UrlRefused(
                f"the host {host} resolves to something that is not an address"
            ) from error
        reason = refusal_reason(address)
        if reason is not None:
            raise UrlRefused(
                f"the host {host} resolves to {address}, {reason} address, not a public one; "
                f"{_ADVICE}"
            )


def _unresolvable(host: str) -> UrlRefused:
    return UrlRefused(f"the host {host} does not resolve; check the link for typos")


def _system_resolve(host: str) -> list[str]:
    infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def _system_resolve_async(host: str) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]
