"""The one outbound policy: every URL the platform calls (chain nodes, webhooks, Slack) goes through here.

A target is refused unless every address its host resolves to is a public (globally routable)
address: loopback, private, link-local, unspecified, multicast, reserved and other special ranges
are refused, for IPv4 and IPv6 alike (IPv4-mapped IPv6 addresses are judged as the IPv4 address
they carry). The check happens after DNS resolution, and :func:`request` then connects to the very
address it checked (the URL's host is replaced by the IP, the ``Host`` header and TLS SNI keep the
name), so a DNS answer that changes between check and connect cannot steer the request elsewhere.
IPv6 addresses that carry an IPv4 address (6to4 ``2002::/16``, Teredo ``2001::/32``, NAT64
``64:ff9b::/96``, IPv4-compatible ``::/96`` and IPv4-translated ``::ffff:0:0:0/96``) are refused
when the IPv4 address they carry would be: a tunnel or translator would deliver to it.

Redirects are never followed: a 3xx answer is returned as it is and the caller treats it as a
failure (a 302 would turn a signed POST into a bodyless GET, a 307 would carry the body and its
signature to a target nobody configured).

A call may have one total deadline (``deadline_seconds``): name resolution, connect, TLS, sending
the request and reading the answer's headers and body all end by it, however slowly the other side
trickles bytes (connect and read timeouts alone are per operation, so a receiver sending one byte a
second would hold a call for ever).

``CHAINLAKE_OUTBOUND_ALLOW`` (settings ``OUTBOUND_ALLOW``) lists exceptions: CIDRs
(``127.0.0.0/8``, ``10.1.2.3``, ``::1``) or host names (exact, case-insensitive). A named host is
allowed whatever it resolves to; an address is allowed when it lies in a listed network.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import httpcore
import httpx
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# The environment variable behind settings.OUTBOUND_ALLOW: a refusal names it, so whoever reads the
# error knows how an intended internal target is allowed.
ALLOW_VARIABLE = "CHAINLAKE_OUTBOUND_ALLOW"


class OutboundRefused(Exception):
    """The policy refused a target; the message names the address and why."""


class DeadlineExceeded(Exception):
    """The call did not complete within its total deadline."""


@dataclass(frozen=True)
class OutboundResponse:
    status_code: int
    headers: httpx.Headers
    body: bytes
    url: str
    truncated: bool = False


def _allow_entries() -> tuple[list[ipaddress.IPv4Network | ipaddress.IPv6Network], set[str]]:
    networks, hosts = [], set()
    for entry in settings.OUTBOUND_ALLOW:
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
        except ValueError:
            hosts.add(entry.lower())
    return networks, hosts


NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address carries, each with the kind of address that carries it."""
    found = []
    if address.sixtofour is not None:
        found.append(("a 6to4", address.sixtofour))
    if address.teredo is not None:
        server, client = address.teredo
        found += [("a Teredo", server), ("a Teredo", client)]
    last32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in NAT64_PREFIX:
        found.append(("a NAT64", last32))
    elif address in IPV4_TRANSLATED:
        found.append(("an IPv4-translated", last32))
    elif address in IPV4_COMPATIBLE and int(address) > 1:  # not :: nor ::1, judged as themselves
        found.append(("an IPv4-compatible", last32))
    return found


def refusal_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not a public target (None when it is)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return refusal_reason(address.ipv4_mapped)
        for kind, carried in embedded_ipv4(address):
            reason = refusal_reason(carried)
            if reason is not None:
                return f"{kind} address carrying {carried}, {reason}"
        if address.sixtofour is not None or address in NAT64_PREFIX:
            # Judged by the IPv4 address alone (as a mapped one is): a DNS64 resolver on an
            # IPv6-only host answers NAT64 addresses for every public IPv4-only name.
            return None
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
        raise OutboundRefused(
            f"refused: {named} is {reason} (an intended internal target is allowed by adding it, "
            f"or its network, to {ALLOW_VARIABLE})"
        )


# Name resolution runs here so that a call's deadline bounds it too (getaddrinfo has no timeout);
# a lookup still running at the deadline is left to finish on its own.
_RESOLVER = ThreadPoolExecutor(max_workers=8, thread_name_prefix="outbound-dns")


def _getaddrinfo(host: str, port: int) -> list:
    left = _remaining(DeadlineExceeded)
    if left is None:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    lookup = _RESOLVER.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        return lookup.result(timeout=left)
    except FutureTimeout:
        raise DeadlineExceeded(f"{host} did not resolve within the deadline") from None


def resolve_checked(host: str, port: int) -> IPAddress:
    """The address to connect to for ``host``: every address it resolves to must be allowed (a
    name answering one public and one private address is refused, whatever their order), and
    the first one, checked like the others, is used."""
    bare = host.strip("[]")
    try:
        literal = ipaddress.ip_address(bare)
    except ValueError:
        literal = None
    if literal is not None:
        check_address(literal, host=bare)
        return literal
    try:
        infos = _getaddrinfo(bare, port)
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


# -- the total deadline ------------------------------------------------------------------------------
# The deadline of the call running on this thread (a monotonic time), read by every socket operation
# of the connection pool: each connect, read and write waits at most until then.
_deadline = threading.local()
WRITE_PIECE_BYTES = 16 * 1024


def _remaining(timeout_error: type[Exception]) -> float | None:
    """Seconds left before this thread's deadline (None without one); raises once it has passed."""
    at = getattr(_deadline, "at", None)
    if at is None:
        return None
    left = at - time.monotonic()
    if left <= 0:
        raise timeout_error("the deadline passed")
    return left


def _capped(timeout: float | None, timeout_error: type[Exception]) -> float | None:
    left = _remaining(timeout_error)
    if left is None:
        return timeout
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every operation ends by the deadline of the call using it."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _capped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # In pieces, so that a receiver reading slowly cannot stretch one write past the deadline.
        for start in range(0, len(buffer), WRITE_PIECE_BYTES):
            piece = buffer[start : start + WRITE_PIECE_BYTES]
            self._stream.write(piece, _capped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> httpcore.NetworkStream:
        capped = _capped(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, capped))

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        capped = _capped(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._backend.connect_tcp(host, port, capped, local_address, socket_options))

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("unix sockets are not outbound targets")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


_CLIENT: httpx.Client | None = None
MAX_CONNECTIONS = 64


def client() -> httpx.Client:
    """One keep-alive client per process (connections are pooled per checked address), whose
    connections keep to each call's deadline."""
    global _CLIENT
    if _CLIENT is None:
        transport = httpx.HTTPTransport()
        # httpx takes no network backend; its pool is replaced by the same pool over ours.
        transport._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=MAX_CONNECTIONS,
            max_keepalive_connections=MAX_CONNECTIONS,
            keepalive_expiry=5.0,
            network_backend=_DeadlineBackend(),
        )
        _CLIENT = httpx.Client(transport=transport, follow_redirects=False)
    return _CLIENT


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    connect_timeout: float = 5.0,
    read_timeout: float = 10.0,
    deadline_seconds: float | None = None,
    max_body_bytes: int = 64 * 1024,
) -> OutboundResponse:
    """Send one request under the policy; a redirect is returned, never followed.

    With ``deadline_seconds`` the whole call (resolve, connect, send, read the answer) ends within
    it, or raises DeadlineExceeded. The response body is read up to ``max_body_bytes`` (the rest
    is dropped unread). Raises OutboundRefused for a refused target and httpx errors (timeouts,
    connection errors) as they are.
    """
    outer = getattr(_deadline, "at", None)
    _deadline.at = None if deadline_seconds is None else time.monotonic() + deadline_seconds
    try:
        return _send(method, url, headers, content, connect_timeout, read_timeout, max_body_bytes)
    except (httpx.TimeoutException, DeadlineExceeded) as exc:
        if _deadline.at is not None and time.monotonic() >= _deadline.at:
            raise DeadlineExceeded(f"no complete answer within {deadline_seconds:.1f} s") from exc
        raise
    finally:
        _deadline.at = outer


def _send(method, url, headers, content, connect_timeout, read_timeout, max_body_bytes) -> OutboundResponse:
    parsed, address = _target(url)
    pinned, host_header = _pinned(parsed, address)
    send_headers = {**(headers or {}), "Host": host_header}
    extensions = {"sni_hostname": parsed.host} if parsed.scheme == "https" else {}
    # Waiting for a free pooled connection counts against the deadline as well.
    pool_timeout = _capped(read_timeout, DeadlineExceeded)
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout, pool=pool_timeout)
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
        return OutboundResponse(response.status_code, response.headers, bytes(body), url, truncated)
