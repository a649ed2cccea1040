import pytest

from chains.client import EvmRpcClient, RetryPolicy
from testkit.testchain import LocalTestChain


@pytest.fixture(autouse=True)
def loopback_node_allowed(settings):
    """The test chain serves on 127.0.0.1, which the outbound policy refuses unless allow-listed."""
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]


@pytest.fixture
def chain():
    """A fresh local chain with the test token deployed, served over HTTP on 127.0.0.1."""
    with LocalTestChain(seed=7) as local_chain:
        local_chain.deploy_token()
        yield local_chain


@pytest.fixture
def sleeps():
    """The backoff delays a client asked for, instead of sleeping them."""
    return []


@pytest.fixture
def make_client(chain, sleeps):
    def make(**options):
        options.setdefault("chain_id", chain.chain_id)
        options.setdefault("retry", RetryPolicy(max_attempts=4, initial_delay_seconds=0.01))
        options.setdefault("timeout_seconds", 10)
        return EvmRpcClient(chain.url, sleep=sleeps.append, **options)

    return make
