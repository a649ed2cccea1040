"""The outbound policy: private, loopback, link-local and other special targets are refused after
DNS resolution, before any connection, for webhooks, Slack and chain nodes, also when an IPv6
address carries them; every address a name resolves to is checked; redirects are never followed;
the connection goes to the checked address; a call ends within its total deadline. Only loopback
receivers are ever contacted."""

import ipaddress
import socket
import time

import pytest

from alerting.channels import channel_errors, send_webhook
from chains.client import EvmRpcClient
from chains.errors import OutboundRefusedError
from platform_site import outbound
from tests.alerting.receiver import Answer, Receiver

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def no_connections(monkeypatch):
    """Fail the test if anything tries to open a socket to a non-loopback address."""
    real = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            raise AssertionError(f"a connection to {address} was attempted")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def default_policy(settings):
    settings.OUTBOUND_ALLOW = []


REFUSED = [
    ("http://127.0.0.1:9/hook", "127.0.0.1 is a loopback address"),
    ("http://10.0.0.1/hook", "10.0.0.1 is a private address"),
    ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local address"),
    ("http://[::1]:9/hook", "::1 is a loopback address"),
    ("http://[::ffff:127.0.0.1]/hook", "is a loopback address"),
    ("http://0.0.0.0/hook", "0.0.0.0 is an unspecified address"),
    ("http://224.0.0.1/hook", "224.0.0.1 is a multicast address"),
    ("http://[fe80::1]/hook", "fe80::1 is a link-local address"),
    ("http://localhost:9/hook", "localhost (127.0.0.1) is a loopback address"),
    ("http://192.168.1.10/hook", "192.168.1.10 is a private address"),
    ("http://100.64.0.1/hook", "100.64.0.1 is a"),
    # IPv6 addresses carrying a refused IPv4 address: tunnels and translators would deliver to it.
    ("http://[2002:7f00:1::1]/hook", "a 6to4 address carrying 127.0.0.1, a loopback address"),
    ("http://[2002:a9fe:a9fe::]/hook", "a 6to4 address carrying 169.254.169.254, a link-local address"),
    ("http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/hook", "a Teredo address carrying 10.0.0.1, a private"),
    ("http://[64:ff9b::a9fe:a9fe]/hook", "a NAT64 address carrying 169.254.169.254, a link-local address"),
    ("http://[64:ff9b::7f00:1]/hook", "a NAT64 address carrying 127.0.0.1, a loopback address"),
    ("http://[::a00:1]/hook", "an IPv4-compatible address carrying 10.0.0.1, a private address"),
    ("http://[::ffff:0:c0a8:10a]/hook", "an IPv4-translated address carrying 192.168.1.10, a private"),
    ("http://[::ffff:a9fe:a9fe]/hook", "::ffff:a9fe:a9fe is a link-local address"),  # judged as IPv4
]


@pytest.mark.parametrize(("url", "message"), REFUSED)
def test_refused_by_default_before_connecting(url, message, default_policy, no_connections):
    with pytest.raises(outbound.OutboundRefused) as caught:
        outbound.request("POST", url, content=b"{}")
    assert str(caught.value).startswith("refused: ") and message in str(caught.value)


@pytest.mark.parametrize(("url", "message"), REFUSED[:4] + REFUSED[-8:])
def test_a_webhook_to_a_refused_target_is_a_permanent_failure_and_a_field_error(
    url, message, default_policy, no_connections
):
    result = send_webhook({"url": url, "secret": SECRET}, message_id="m", document={"type": "alert.event"})
    assert not result.ok and result.permanent and message in result.error
    errors = channel_errors([{"type": "webhook", "url": url, "secret": SECRET}])
    assert message in errors["channels[0].url"]
    errors = channel_errors([{"type": "slack", "webhook_url": url}])
    assert message in errors["channels[0].webhook_url"]


def test_a_host_name_resolving_to_loopback_is_refused(default_policy, no_connections, monkeypatch):
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "internal.example.com":
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    with pytest.raises(outbound.OutboundRefused, match=r"internal.example.com \(127.0.0.1\) is a loopback"):
        outbound.request("POST", "http://internal.example.com/hook")


@pytest.mark.parametrize(
    "address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8", "2606:4700:4700::1111", "8.8.8.8"]
)
def test_public_addresses_pass_also_through_nat64_and_6to4(address, default_policy):
    """A DNS64 resolver on an IPv6-only host answers NAT64 addresses for every IPv4-only name."""
    outbound.check_address(ipaddress.ip_address(address))


def resolving(monkeypatch, name: str, addresses: list[str]) -> None:
    """Make ``name`` resolve to ``addresses``, at the socket.getaddrinfo level, in that order."""
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host == name:
            infos = []
            for address in addresses:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
                infos.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
            return infos
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.mark.parametrize(
    "addresses",
    [
        ["93.184.215.14", "10.0.0.1"],
        ["10.0.0.1", "93.184.215.14"],
        ["2606:2800:21f:cb07:6820:80da:af6b:8b2c", "93.184.215.14", "2002:a00:1::"],
    ],
)
def test_every_address_a_name_resolves_to_is_checked(addresses, default_policy, no_connections, monkeypatch):
    resolving(monkeypatch, "mixed.example.com", addresses)
    # The refused address is named, wherever it comes in the answer.
    refused = (
        r"^refused: mixed\.example\.com \(\S+\) is .*\b10\.0\.0\.1\b.*private address "
        r"\(.*CHAINLAKE_OUTBOUND_ALLOW\)$|\(10\.0\.0\.1\)"
    )
    with pytest.raises(outbound.OutboundRefused, match=refused):
        outbound.request("POST", "http://mixed.example.com/hook", content=b"{}")
    with pytest.raises(outbound.OutboundRefused, match=refused):
        outbound.check_url("https://mixed.example.com/")
    errors = channel_errors([{"type": "webhook", "url": "http://mixed.example.com/hook", "secret": SECRET}])
    assert "10.0.0.1" in errors["channels[0].url"]  # on save, too


def test_a_name_whose_addresses_all_pass_is_called_on_a_checked_one(settings, monkeypatch):
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32", "127.0.0.2/32"]
    resolving(monkeypatch, "hooks.example.com", ["127.0.0.1", "127.0.0.2"])
    with Receiver() as receiver:
        port = receiver.url.rsplit(":", 1)[1]
        assert outbound.request("POST", f"http://hooks.example.com:{port}/hook").status_code == 200
        assert len(receiver.at("/hook")) == 1


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_never_followed(status, settings, no_connections):
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]
    with Receiver() as receiver:
        for location in ("http://169.254.169.254/latest", "/elsewhere"):
            receiver.script("/hook", Answer(status=status, headers={"Location": location}))
            response = outbound.request("POST", receiver.url + "/hook", content=b"{}")
            assert response.status_code == status and response.headers["location"] == location
        assert len(receiver.at("/hook")) == 2 and receiver.at("/elsewhere") == []


def test_answer_bodies_are_capped(settings):
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]
    with Receiver() as receiver:
        receiver.script("/a", Answer(status=200, body=b"x" * 200_000))
        response = outbound.request("POST", receiver.url + "/a", content=b"{}", max_body_bytes=1000)
        assert response.status_code == 200 and len(response.body) == 1000 and response.truncated


def test_a_call_ends_at_its_deadline_however_slowly_the_answer_trickles(settings):
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]
    with Receiver() as receiver:
        receiver.script("/slow", Answer(trickle_seconds=0.3, body=b"ok" * 20))
        started = time.monotonic()
        with pytest.raises(outbound.DeadlineExceeded, match=r"no complete answer within 1\.0 s"):
            # The read timeout is per read: one byte every 0.3 s never trips it.
            outbound.request(
                "POST", receiver.url + "/slow", content=b"{}", read_timeout=2, deadline_seconds=1
            )
        assert 0.9 <= time.monotonic() - started < 1.5
        # The connection pool is fine afterwards.
        assert outbound.request("POST", receiver.url + "/ok", deadline_seconds=1).status_code == 200


def test_a_name_that_resolves_slowly_ends_at_the_deadline(settings, monkeypatch):
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]
    real = socket.getaddrinfo

    def slow(host, *args, **kwargs):
        if host == "slow-dns.example.com":
            time.sleep(2)
        return real("127.0.0.1" if host == "slow-dns.example.com" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    started = time.monotonic()
    with pytest.raises(outbound.DeadlineExceeded):
        outbound.request("POST", "http://slow-dns.example.com:9/hook", deadline_seconds=0.5)
    assert time.monotonic() - started < 1


def test_the_connection_goes_to_the_checked_address_with_the_name_in_host(settings, monkeypatch):
    """DNS rebinding: the name is resolved once, checked, and that address is the one connected to;
    a resolver that would answer differently later is never asked again."""
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]
    answers = iter(["127.0.0.1"])
    real = socket.getaddrinfo

    def once(host, *args, **kwargs):
        if host == "hooks.example.com":
            return real(next(answers), *args, **kwargs)  # a second lookup raises StopIteration
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", once)
    with Receiver() as receiver:
        port = receiver.url.rsplit(":", 1)[1]
        response = outbound.request("POST", f"http://hooks.example.com:{port}/hook", content=b"{}")
        assert response.status_code == 200
        assert receiver.at("/hook")[0].headers["Host"] == f"hooks.example.com:{port}"


def test_allow_list_by_host_name(settings, no_connections):
    settings.OUTBOUND_ALLOW = ["localhost"]
    with Receiver() as receiver:
        port = receiver.url.rsplit(":", 1)[1]
        assert outbound.request("POST", f"http://localhost:{port}/x").status_code == 200
    with pytest.raises(outbound.OutboundRefused):
        outbound.request("POST", "http://127.0.0.2/x")


def test_only_http_schemes(default_policy):
    for url in ("file:///etc/passwd", "gopher://x", "ftp://example.com/"):
        with pytest.raises(outbound.OutboundRefused, match="only http"):
            outbound.request("GET", url)


def test_a_chain_node_on_loopback_is_refused_unless_allowed(settings, no_connections):
    settings.OUTBOUND_ALLOW = []
    with pytest.raises(OutboundRefusedError, match=r"refused: 127\.0\.0\.1 is a loopback address"):
        EvmRpcClient("http://127.0.0.1:8545")
    with pytest.raises(OutboundRefusedError, match=r"refused: 169\.254\.169\.254 is a link-local"):
        EvmRpcClient("http://user:key@169.254.169.254/")
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]
    EvmRpcClient("http://127.0.0.1:8545")  # allowed: constructing does not connect
