"""Reorg handling: forced reorgs on the local chain (revert to a snapshot, mine a different branch)
must leave the lake — and evm.transfers derived from it — exactly as a fresh ingestion of the final
chain would, with one reorg reported per fork; a fork deeper than allowed changes nothing."""

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from chains.client import EvmRpcClient
from chains.errors import ReorgTooDeepError
from chains.ingest import ingest_range
from chains.reorg import find_common_ancestor
from chains.schema import BLOCKS, LOGS, TRANSFERS
from testkit.lake import InMemoryLake
from testkit.testchain import LocalTestChain

WIDTH = 4
MAX_DEPTH = 6


def _ingest(lake, client, **options):
    options.setdefault("partition_width", WIDTH)
    options.setdefault("max_reorg_depth", MAX_DEPTH)
    result = ingest_range(client, start=lake.next_block(), stored_hashes=lake.block_hashes, **options)
    lake.apply(result)
    return result


def _fresh(client):
    lake = InMemoryLake()
    _ingest(lake, client)
    return lake


def _canonical_hashes(chain):
    return {n: chain.block_hash(n) for n in range(chain.head + 1)}


# No shrinking: each example mines a fresh chain, and shrinking a failure took minutes; the failing
# example is printed as drawn, which is small already.
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    initial_blocks=st.integers(min_value=4, max_value=12),
    forks=st.lists(
        st.tuples(st.integers(min_value=1, max_value=MAX_DEPTH), st.integers(min_value=1, max_value=3)),
        min_size=1,
        max_size=3,
    ),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_after_random_reorgs_the_lake_equals_a_fresh_ingestion(initial_blocks, forks, seed):
    with LocalTestChain(seed=seed) as chain:
        chain.deploy_token()
        chain.mine_random_blocks(initial_blocks)
        client = EvmRpcClient(chain.url, chain_id=chain.chain_id, batch_size=5)
        lake = InMemoryLake()
        _ingest(lake, client)

        expected_events = []
        for depth, extra_blocks in forks:
            stored_before = dict(lake.block_hashes)
            fork_point = chain.head - depth
            chain.reorg(depth, new_branch_length=depth + extra_blocks)
            result = _ingest(lake, client)

            assert result.reorg is not None
            event = result.reorg.source_event()
            assert (event["type"], event["chain_id"]) == ("reorg", chain.chain_id)
            assert (event["from_block"], event["depth"]) == (fork_point + 1, depth)
            assert event["old_hashes"] == [
                stored_before[n] for n in range(fork_point + 1, fork_point + 1 + depth)
            ]
            assert event["new_hashes"] == [
                chain.block_hash(n) for n in range(fork_point + 1, fork_point + 1 + depth)
            ]
            assert result.reorg.row_filter() == {"block_number": {"gte": fork_point + 1}}
            expected_events.append(event)

        assert [reorg.source_event() for reorg in lake.reorgs] == expected_events
        assert lake.block_hashes == _canonical_hashes(chain)
        fresh = _fresh(client)
        assert fresh.reorgs == []
        assert lake.checksums() == fresh.checksums()
        assert {dataset for dataset, _ in lake.partitions} == {BLOCKS, "evm.transactions", LOGS, TRANSFERS}


def test_a_reorg_across_a_partition_boundary_rewrites_both_partitions(chain, make_client):
    chain.mine_random_blocks(12 - chain.head)  # head at block 12, the start of blocks_00000012
    client = make_client()
    lake = InMemoryLake()
    _ingest(lake, client)

    chain.reorg(3)  # blocks 10, 11 (in blocks_00000008) and 12 are replaced
    result = _ingest(lake, client)

    assert result.reorg.from_block == 10
    assert sorted({(w.partition_key, w.replace_from_block) for w in result.writes}) == [
        ("blocks_00000008", 10),
        ("blocks_00000012", 12),
    ]
    assert lake.checksums() == _fresh(client).checksums()


def test_a_reorg_deeper_than_the_maximum_fails_loudly_and_changes_nothing(chain, make_client):
    chain.mine_random_blocks(10)
    client = make_client()
    lake = InMemoryLake()
    _ingest(lake, client)
    before = (lake.checksums(), dict(lake.block_hashes), lake.cursor)

    chain.reorg(MAX_DEPTH + 1)
    with pytest.raises(
        ReorgTooDeepError, match=rf"deeper than max_reorg_depth={MAX_DEPTH}.*nothing was written"
    ) as raised:
        _ingest(lake, client)

    assert not raised.value.transient
    assert (lake.checksums(), lake.block_hashes, lake.cursor) == before
    result = _ingest(lake, client, max_reorg_depth=MAX_DEPTH + 1)  # an operator raises the bound
    assert result.reorg.depth == MAX_DEPTH + 1
    assert lake.checksums() == _fresh(client).checksums()


def test_stored_hashes_may_come_from_a_callable(chain, make_client):
    chain.mine_random_blocks(6)
    client = make_client()
    lake = InMemoryLake()
    _ingest(lake, client)
    fork_point = chain.head - 2
    chain.reorg(2)
    lookups = []

    def stored(number):
        lookups.append(number)
        return lake.block_hashes.get(number)

    reorg = find_common_ancestor(client, stored_hashes=stored, tip=lake.cursor, max_depth=MAX_DEPTH)

    assert reorg.from_block == fork_point + 1 and reorg.depth == 2
    assert lookups == [lake.cursor, lake.cursor - 1, lake.cursor - 2]


def test_blocks_never_stored_bound_the_walk(chain, make_client):
    # The lake began at block 5: a fork below it cannot be stored, so the walk stops at 5.
    chain.mine_random_blocks(4)
    client = make_client()
    lake = InMemoryLake()
    lake.cursor = 4
    _ingest(lake, client)
    chain.reorg(chain.head - 2)

    result = _ingest(lake, client, max_reorg_depth=50)

    assert result.reorg.from_block == 5
    assert result.reorg.old_hashes[0] != result.reorg.new_hashes[0]
