"""The outbound policy: private, loopback, link-local and other special targets are refused after
DNS resolution, before any connection, for webhooks, Slack and chain nodes; redirects are checked at
every hop; the connection goes to the checked address. Only loopback receivers are ever contacted."""

import ipaddress
import socket

import pytest

from alerting.channels import channel_errors, send_webhook
from orchestration.evm.client import EvmRpcClient
from orchestration.evm.errors import OutboundRefusedError
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
]


@pytest.mark.parametrize(("url", "message"), REFUSED)
def test_refused_by_default_before_connecting(url, message, default_policy, no_connections):
    with pytest.raises(outbound.OutboundRefused) as caught:
        outbound.request("POST", url, content=b"{}")
    assert str(caught.value).startswith("refused: ") and message in str(caught.value)


@pytest.mark.parametrize(("url", "message"), REFUSED[:4])
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


def test_a_redirect_to_a_refused_target_is_refused_at_that_hop(settings, no_connections):
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]  # the first hop only
    with Receiver() as receiver:
        receiver.script("/hook", Answer(status=307, headers={"Location": "http://169.254.169.254/latest"}))
        with pytest.raises(outbound.OutboundRefused, match=r"169\.254\.169\.254 is a link-local address"):
            outbound.request("POST", receiver.url + "/hook", content=b"{}")
        receiver.script("/hook", Answer(status=302, headers={"Location": "http://[::1]:1/x"}))
        with pytest.raises(outbound.OutboundRefused, match="::1 is a loopback address"):
            outbound.request("POST", receiver.url + "/hook", content=b"{}")
        assert len(receiver.at("/hook")) == 2


def test_allowed_redirects_are_followed_and_bodies_capped(settings):
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]
    with Receiver() as receiver:
        receiver.script("/a", Answer(status=308, headers={"Location": "/b"}))
        receiver.script("/b", Answer(status=200, body=b"x" * 200_000))
        response = outbound.request("POST", receiver.url + "/a", content=b"{}", max_body_bytes=1000)
        assert response.status_code == 200 and response.url.endswith("/b")
        assert len(response.body) == 1000 and response.truncated
        assert receiver.at("/b")[0].body == b"{}"  # 308 keeps the method and body


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
