"""The one outbound policy: every URL the platform calls (chain nodes, webhooks, Slack) goes through here.

A target is refused unless every address its host resolves to is a public (globally routable)
address: loopback, private, link-local, unspecified, multicast, reserved and other special ranges
are refused, for IPv4 and IPv6 alike (IPv4-mapped IPv6 addresses are judged as the IPv4 address
they carry). The check happens after DNS resolution, and :func:`request` then connects to the very
address it checked (the URL's host is replaced by the IP, the ``Host`` header and TLS SNI keep the
name), so a DNS answer that changes between check and connect cannot steer the request elsewhere.
Redirects are followed by hand, each hop checked the same way.

``CHAINLAKE_OUTBOUND_ALLOW`` (settings ``OUTBOUND_ALLOW``) lists exceptions: CIDRs
(``127.0.0.0/8``, ``10.1.2.3``, ``::1``) or host names (exact, case-insensitive). A named host is
allowed whatever it resolves to; an address is allowed when it lies in a listed network.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


class OutboundRefused(Exception):
    """The policy refused a target; the message names the address and why."""


@dataclass(frozen=True)
class OutboundResponse:
    status_code: int
    headers: httpx.Headers
    body: bytes
    url: str
    truncated: bool = False
    hops: list[str] = field(default_factory=list)


def _allow_entries() -> tuple[list[ipaddress.IPv4Network | ipaddress.IPv6Network], set[str]]:
    networks, hosts = [], set()
    for entry in getattr(settings, "OUTBOUND_ALLOW", []) or []:
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            hosts.add(entry.lower())
    return networks, hosts


def refusal_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not a public target (None when it is)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal_reason(address.ipv4_mapped)
    for reason, flag in (
        ("a loopback", address.is_loopback),
        ("an unspecified", address.is_unspecified),
        ("a link-local", address.is_link_local),
        ("a multicast", address.is_multicast),
        ("a private", address.is_private),
        ("a reserved", address.is_reserved),
    ):
        if flag:
            return f"{reason} address"
    if not address.is_global:
        return "a non-public address"
    return None


def check_address(address: IPAddress, *, host: str | None = None) -> None:
    """Raise OutboundRefused unless ``address`` (reached as ``host``) is allowed."""
    networks, hosts = _allow_entries()
    if host is not None and host.lower().strip("[]") in hosts:
        return
    if any(address.version == net.version and address in net for net in networks):
        return
    reason = refusal_reason(address)
    if reason is not None:
        named = f"{host} ({address})" if host and host.strip("[]") != str(address) else str(address)
        raise OutboundRefused(f"refused: {named} is {reason}")


def resolve_checked(host: str, port: int) -> IPAddress:
    """The address to connect to for ``host``: every address it resolves to must be allowed (a
    name answering one public and one private address is refused), and the first one is used."""
    bare = host.strip("[]")
    try:
        literal = ipaddress.ip_address(bare)
    except ValueError:
        literal = None
    if literal is not None:
        check_address(literal, host=bare)
        return literal
    try:
        infos = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:
        raise OutboundRefused(f"refused: {bare} does not resolve ({exc})") from None
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        check_address(address, host=bare)
        addresses.append(address)
    if not addresses:
        raise OutboundRefused(f"refused: {bare} resolves to no address")
    return addresses[0]


def _target(url: str) -> tuple[httpx.URL, IPAddress]:
    try:
        parsed = httpx.URL(url)
    except Exception as exc:  # httpx raises several classes for a malformed URL
        raise OutboundRefused(f"refused: {url!r} is not a URL ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise OutboundRefused(f"refused: {parsed.scheme or 'no'} scheme; only http(s) URLs are called")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return parsed, resolve_checked(parsed.host, port)


def check_url(url: str) -> IPAddress:
    """Resolve and check ``url``'s host now; the address to connect to (a client that connects on
    its own, like the chain node's, pins its connections to it)."""
    return _target(url)[1]


def _pinned(parsed: httpx.URL, address: IPAddress) -> tuple[httpx.URL, str]:
    host_header = parsed.netloc.decode("ascii")
    ip_host = str(address)
    return parsed.copy_with(host=ip_host), host_header


_CLIENT: httpx.Client | None = None


def client() -> httpx.Client:
    """One keep-alive client per process (connections are pooled per checked address)."""
    global _CLIENT
    if _CLIENT is None:
        _CLIENT = httpx.Client(follow_redirects=False, limits=httpx.Limits(max_connections=64))
    return _CLIENT


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    connect_timeout: float = 5.0,
    read_timeout: float = 10.0,
    max_body_bytes: int = 64 * 1024,
    max_redirects: int = 3,
) -> OutboundResponse:
    """Send one request under the policy; follow up to ``max_redirects`` redirects, each checked.

    The response body is read up to ``max_body_bytes`` (the rest is dropped unread). Raises
    OutboundRefused for a refused target and httpx errors (timeouts, connection errors) as they are.
    """
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
    hops: list[str] = []
    current = url
    for _ in range(max_redirects + 1):
        parsed, address = _target(current)
        pinned, host_header = _pinned(parsed, address)
        send_headers = {**(headers or {}), "Host": host_header}
        extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
        with client().stream(
            method, pinned, headers=send_headers, content=content, timeout=timeout, extensions=extensions
        ) as response:
            body, truncated = bytearray(), False
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) >= max_body_bytes:
                    truncated = True
                    del body[max_body_bytes:]
                    break
            location = response.headers.get("location")
            if response.status_code in REDIRECT_STATUSES and location:
                hops.append(current)
                current = urljoin(str(parsed), location)
                if response.status_code in (301, 302, 303):
                    method, content = "GET", None
                continue
            return OutboundResponse(
                response.status_code, response.headers, bytes(body), current, truncated, hops
            )
    raise OutboundRefused(f"refused: more than {max_redirects} redirects from {urlsplit(url).netloc}")
