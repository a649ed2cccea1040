"""The JSON-RPC client against the local chain over HTTP: batching, chain checks, confirmations,
and every kind of bad node answer ending in a typed error or a successful retry."""

import random
import socket

import pytest

from chains.client import EvmRpcClient, RetryPolicy, redact_url
from chains.errors import (
    MalformedResponseError,
    NodeUnavailableError,
    NodeUnreachableError,
    RateLimitedError,
    RpcError,
    WrongChainError,
)
from testkit.testchain import Fault


def test_blocks_come_back_in_the_order_asked_across_batches(chain, make_client):
    chain.mine_random_blocks(6)
    client = make_client(batch_size=3)
    numbers = [5, 0, 6, 2, 1, 7, 3]

    blocks = client.get_blocks(numbers)

    assert [block["hash"] for block in blocks] == [chain.block_hash(n) for n in numbers]
    assert client.stats.http_requests == 3  # 7 calls in batches of 3


def test_logs_over_sub_ranges_equal_one_call_over_the_range(chain, make_client):
    chain.mine_random_blocks(9, max_transfers_per_block=2)
    expected = chain.rpc("eth_getLogs", [{"fromBlock": "0x0", "toBlock": hex(chain.head)}])

    logs = make_client(log_block_range=2).get_logs(0, chain.head)

    assert expected
    assert [(log["blockHash"], log["logIndex"]) for log in logs] == [
        (log["blockHash"], log["logIndex"]) for log in expected
    ]


def test_confirmation_depth_keeps_the_newest_blocks_out(chain, make_client):
    chain.mine_random_blocks(5)

    assert make_client(confirmations=3).safe_head() == chain.head - 3
    assert make_client(confirmations=0).safe_head() == chain.head


def test_wrong_expected_chain_id_fails_without_retrying(chain, make_client, sleeps):
    client = make_client(chain_id=1)

    with pytest.raises(WrongChainError, match=rf"serves chain id {chain.chain_id}, expected 1"):
        client.verify_chain()
    assert sleeps == []
    assert not WrongChainError.transient


def test_node_reporting_another_chain_is_refused(chain, make_client):
    chain.reported_chain_id = 5

    with pytest.raises(WrongChainError, match="serves chain id 5"):
        make_client().verify_chain()


def test_unreachable_node_is_retried_with_growing_backoff_then_fails(sleeps):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = EvmRpcClient(
        f"http://127.0.0.1:{port}/v3/secret-api-key",
        retry=RetryPolicy(max_attempts=4, initial_delay_seconds=1, max_delay_seconds=3),
        sleep=sleeps.append,
        rng=random.Random(1),
    )

    with pytest.raises(NodeUnreachableError) as raised:
        client.verify_chain()

    assert raised.value.transient
    assert "secret-api-key" not in str(raised.value)
    assert str(port) in str(raised.value)
    assert len(sleeps) == 3
    assert 0.5 <= sleeps[0] <= 1 and 1 <= sleeps[1] <= 2 and 1.5 <= sleeps[2] <= 3


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.MALFORMED_JSON, MalformedResponseError),
        (Fault.DROP_CONNECTION, NodeUnreachableError),
        (Fault.HTTP_429, RateLimitedError),
        (Fault.HTTP_503, NodeUnavailableError),
        (Fault.RPC_LIMIT_EXCEEDED, RateLimitedError),
    ],
)
def test_transient_faults_are_retried_until_the_node_answers(chain, make_client, sleeps, fault, error):
    chain.mine_random_blocks(3)
    client = make_client()
    chain.inject_fault(fault, times=2)

    blocks = client.get_blocks([1, 2, 3])

    assert [block["hash"] for block in blocks] == [chain.block_hash(n) for n in (1, 2, 3)]
    assert client.stats.retries == 2 and len(sleeps) == 2
    assert client.stats.errors_by_type == {error.__name__: 2}


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        (Fault.MALFORMED_JSON, MalformedResponseError, "malformed JSON"),
        (Fault.DROP_CONNECTION, NodeUnreachableError, "dropped the connection"),
        (Fault.HTTP_429, RateLimitedError, "HTTP 429"),
        (Fault.RPC_LIMIT_EXCEEDED, RateLimitedError, "-32005"),
    ],
)
def test_persistent_faults_end_in_a_clear_transient_error(chain, make_client, fault, error, message):
    client = make_client()
    chain.inject_fault(fault, times=10)

    with pytest.raises(error, match=message) as raised:
        client.get_blocks([0, 1])

    assert raised.value.transient
    assert chain.faults_served == 4  # every attempt of the policy, no more


def test_retry_after_is_honoured():
    policy = RetryPolicy(initial_delay_seconds=0.1, max_delay_seconds=30)

    assert policy.delay_after(1, retry_after=7, rng=random.Random(0)) == 7
    assert policy.delay_after(1, retry_after=90, rng=random.Random(0)) == 30  # capped


def test_backoff_grows_exponentially_up_to_the_cap():
    policy = RetryPolicy(initial_delay_seconds=1, max_delay_seconds=10)
    rng = random.Random(3)

    delays = [policy.delay_after(attempt, retry_after=None, rng=rng) for attempt in range(1, 8)]

    for attempt, delay in enumerate(delays, start=1):
        ceiling = min(10, 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling


def test_a_permanent_rpc_error_is_not_retried(chain, make_client, sleeps):
    client = make_client()

    with pytest.raises(RpcError, match="eth_noSuchMethod") as raised:
        client.call("eth_noSuchMethod", [])

    assert not raised.value.transient
    assert sleeps == []


def test_a_batch_answered_by_one_error_object_is_an_error(chain, make_client):
    # An empty batch is answered with a single error object, as nodes do for invalid batches.
    with pytest.raises(RpcError, match="-32600"):
        make_client()._send_batch([])


def test_redacted_url_keeps_only_scheme_host_and_port():
    assert redact_url("https://user:pw@node.example:8545/v3/KEY?x=1") == "https://node.example:8545"


def test_requests_go_to_the_address_the_policy_checked_not_a_later_answer_of_dns(
    chain, make_client, monkeypatch
):
    """A node name that resolves to another address after the check (DNS rebinding) must not be
    connected to: the client's connections are pinned to the checked address."""
    real = socket.getaddrinfo
    points_to = {"chain-node.test": "127.0.0.1"}

    def resolve(host, *args, **kwargs):
        return real(points_to.get(host, host), *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    port = chain.url.rsplit(":", 1)[1]
    named = EvmRpcClient(f"http://chain-node.test:{port}", chain_id=chain.chain_id, timeout_seconds=10)
    points_to["chain-node.test"] = "192.0.2.1"  # now where nothing answers

    assert named.head_block_number() == make_client().head_block_number() == chain.head
    assert named.stats.http_requests == 1


def test_answers_naming_ids_that_were_not_asked_are_refused(make_client):
    from chains.client import _Envelope

    client = make_client()
    asked = [_Envelope(id=i) for i in (1, 0, 2)]
    assert [answer.id for answer in client._in_call_order(asked)] == [0, 1, 2]  # any order is fine
    for ids in (["1", "0", "2"], [0, 0, 2], [0, 1, 3]):  # echoed as strings, repeated, unknown
        with pytest.raises(MalformedResponseError, match="ids that were not asked"):
            client._in_call_order([_Envelope(id=i) for i in ids])
