"""The ingestion step end to end over HTTP: what it writes per partition, incremental runs,
confirmations, and node faults that must end in a retry or an error, never in a wrong partition."""

import msgspec
import pyarrow as pa
import pytest

from chains.errors import ChainMovedError, MalformedResponseError, NodeUnreachableError
from chains.ingest import ingest_range
from chains.schema import BLOCKS, LOGS, TRANSACTIONS, TRANSFERS, partition_bounds
from testkit.lake import InMemoryLake
from testkit.testchain import Fault

WIDTH = 5


def _ingest(lake, client, **options):
    options.setdefault("partition_width", WIDTH)
    result = ingest_range(client, start=lake.next_block(), stored_hashes=lake.block_hashes, **options)
    lake.apply(result)
    return result


def _fresh_lake(client):
    lake = InMemoryLake()
    _ingest(lake, client)
    return lake


def _methods(message):
    return {request.get("method") for request in (message if isinstance(message, list) else [message])}


def test_ingests_every_block_transaction_and_log_into_block_range_partitions(chain, make_client):
    chain.mine_random_blocks(12)
    lake = InMemoryLake()

    result = _ingest(lake, make_client())

    head = chain.head
    assert (result.first_block, result.last_block, result.cursor_value) == (0, head, str(head))
    assert result.reorg is None
    truth_blocks = [chain.rpc("eth_getBlockByNumber", [hex(n), True]) for n in range(head + 1)]
    truth_logs = chain.rpc("eth_getLogs", [{"fromBlock": "0x0", "toBlock": hex(head)}])
    assert lake.dataset(BLOCKS)["block_hash"].to_pylist() == [b["hash"] for b in truth_blocks]
    assert lake.dataset(TRANSACTIONS)["transaction_hash"].to_pylist() == [
        tx["hash"] for b in truth_blocks for tx in b["transactions"]
    ]
    assert lake.dataset(LOGS)["transaction_hash"].to_pylist() == [
        log["transactionHash"] for log in truth_logs
    ]
    assert lake.dataset(TRANSFERS).num_rows > 3
    assert result.block_hashes == {n: b["hash"] for n, b in enumerate(truth_blocks)}
    for (dataset, key), table in lake.partitions.items():
        low, high = partition_bounds(key, WIDTH)
        numbers = table["block_number"].to_pylist()
        assert all(low <= n <= high for n in numbers), (dataset, key)
    assert {key for _, key in lake.partitions} == {f"blocks_{n:08d}" for n in range(0, head + 1, WIDTH)}


def test_incremental_runs_build_the_same_partitions_as_one_run(chain, make_client):
    chain.mine_random_blocks(13)
    client = make_client()
    stepwise = InMemoryLake()

    while stepwise.cursor != chain.head:
        result = _ingest(stepwise, client, max_blocks=3)
        assert result.block_count <= 3

    assert stepwise.checksums() == _fresh_lake(client).checksums()


def test_confirmation_depth_holds_back_the_newest_blocks(chain, make_client):
    chain.mine_random_blocks(6)
    client = make_client(confirmations=4)
    lake = InMemoryLake()

    first = _ingest(lake, client)
    nothing_new = _ingest(lake, client)
    chain.mine_random_blocks(2)
    second = _ingest(lake, client)

    assert first.last_block == chain.head - 2 - 4
    assert (nothing_new.last_block, nothing_new.writes, nothing_new.cursor_value) == (None, [], None)
    assert second.first_block == first.last_block + 1 and second.last_block == chain.head - 4


def test_an_empty_partition_still_gets_a_write(chain, make_client):
    chain.mine_random_blocks(6, max_transfers_per_block=0)

    result = ingest_range(make_client(), start=6, end=9, stored_hashes={}, partition_width=WIDTH)

    logs_writes = [w for w in result.writes if w.dataset == LOGS]
    assert [(w.partition_key, w.replace_from_block, w.table.num_rows) for w in logs_writes] == [
        ("blocks_00000005", 6, 0)
    ]


def test_transient_faults_during_a_run_change_nothing_in_the_result(chain, make_client):
    chain.mine_random_blocks(10)
    clean = _fresh_lake(make_client())
    chain.inject_fault(Fault.MALFORMED_JSON)
    chain.inject_fault(Fault.DROP_CONNECTION)
    chain.inject_fault(Fault.HTTP_429)

    faulty_client = make_client(batch_size=4)
    retried = _fresh_lake(faulty_client)

    assert faulty_client.stats.retries == 3
    assert retried.checksums() == clean.checksums()


@pytest.mark.parametrize(
    ("fault", "error"),
    [(Fault.MALFORMED_JSON, MalformedResponseError), (Fault.DROP_CONNECTION, NodeUnreachableError)],
)
def test_a_node_failing_mid_run_raises_and_leaves_the_lake_as_it_was(chain, make_client, fault, error):
    chain.mine_random_blocks(6)
    client = make_client()
    lake = InMemoryLake()
    _ingest(lake, client, end=3)
    before = (lake.checksums(), dict(lake.block_hashes), lake.cursor)

    def fail_the_log_reads(message):
        if "eth_getLogs" in _methods(message):
            chain.inject_fault(fault, times=10)

    chain.request_hook = fail_the_log_reads
    with pytest.raises(error) as raised:
        _ingest(lake, client)

    assert raised.value.transient
    assert (lake.checksums(), lake.block_hashes, lake.cursor) == before
    chain.request_hook = None
    chain.clear_faults()
    _ingest(lake, client)
    assert lake.checksums() == _fresh_lake(client).checksums()


def test_a_reorg_between_reading_blocks_and_logs_is_caught(chain, make_client):
    chain.mine_random_blocks(8)
    client = make_client()
    lake = InMemoryLake()
    reorged = []

    def reorg_before_the_log_read(message):
        if "eth_getLogs" in _methods(message) and not reorged:
            reorged.append(chain.reorg(2))

    chain.request_hook = reorg_before_the_log_read
    with pytest.raises(ChainMovedError, match="a log names block"):
        _ingest(lake, client)

    assert lake.partitions == {} and reorged
    chain.request_hook = None
    _ingest(lake, client)  # the retry reads a consistent chain
    assert lake.dataset(BLOCKS)["block_hash"].to_pylist() == [
        chain.block_hash(n) for n in range(chain.head + 1)
    ]


def test_partition_writes_come_in_row_order_whatever_order_the_rows_arrived_in():
    from chains.ingest import split_into_partitions
    from chains.schema import LOGS_SCHEMA

    def row(block, log_index):
        return {
            "chain_id": 1,
            "block_number": block,
            "block_hash": f"0x{block:064x}",
            "block_timestamp": 0,
            "transaction_index": 0,
            "transaction_hash": "0x" + "cd" * 32,
            "log_index": log_index,
            "address": "0x" + "11" * 20,
            "data": "0x",
        }

    shuffled = pa.Table.from_pylist([row(3, 1), row(2, 5), row(3, 0), row(2, 4)], schema=LOGS_SCHEMA)
    in_order = pa.Table.from_pylist([row(2, 4), row(3, 0)], schema=LOGS_SCHEMA)

    (shuffled_write,) = split_into_partitions(
        {LOGS: shuffled}, first_block=2, last_block=3, partition_width=10
    )
    (ordered_write,) = split_into_partitions(
        {LOGS: in_order}, first_block=2, last_block=3, partition_width=10
    )

    assert [(r["block_number"], r["log_index"]) for r in shuffled_write.table.to_pylist()] == [
        (2, 4),
        (2, 5),
        (3, 0),
        (3, 1),
    ]
    assert ordered_write.table.equals(in_order)


class _LogsOnly:
    """A client stand-in that answers every eth_getLogs with the same logs."""

    log_block_range = 10
    concurrency = 1

    def __init__(self, logs):
        self.logs = logs

    def stream_logs(self, start, end, parse):
        return iter([parse([msgspec.json.encode(log) for log in self.logs])])


def _log(block_number, block_hash, **overrides):
    return {
        "blockNumber": hex(block_number),
        "blockHash": block_hash,
        "transactionIndex": "0x0",
        "transactionHash": "0x" + "cd" * 32,
        "logIndex": "0x0",
        "address": "0x" + "11" * 20,
        "topics": [],
        "data": "0x",
        **overrides,
    }


@pytest.mark.parametrize(
    ("logs", "error", "message"),
    [
        # Well formed, but naming another hash for a block that was read.
        ([_log(5, "0x" + "ee" * 32)], ChainMovedError, "a log names block 5"),
        # Malformed and naming a block that was not read: the moved chain is the better explanation.
        ([_log(7, "0x" + "ee" * 32, address="0x12")], ChainMovedError, "a log names block 7"),
        # Malformed, of a block that was read with that hash.
        ([_log(5, "0x" + "aa" * 32, address="0x12")], MalformedResponseError, "address"),
    ],
)
def test_logs_are_checked_against_the_blocks_read(logs, error, message):
    from chains.ingest import _read_logs

    hashes = {5: "0x" + "aa" * 32, 6: "0x" + "bb" * 32}
    with pytest.raises(error, match=message):
        _read_logs(_LogsOnly(logs), 1, 5, 6, hashes, {5: 0, 6: 12})
