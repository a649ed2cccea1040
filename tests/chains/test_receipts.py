"""Receipt columns of evm.transactions: equal to the node's own eth_getTransactionReceipt, read with
eth_getBlockReceipts or, from a node without it, transaction by transaction, and refused when they
are not the receipts of the transactions read."""

import pyarrow as pa
import pytest

from chains.convert import transactions_table
from chains.errors import ChainMovedError, MalformedResponseError
from chains.ingest import PartitionWrite, ingest_range, merge_partition
from chains.schema import RECEIPT_COLUMNS, TRANSACTIONS, TRANSACTIONS_SCHEMA
from testkit import token_contract
from testkit.lake import InMemoryLake

WIDTH = 5


def _methods(message):
    return [request.get("method") for request in (message if isinstance(message, list) else [message])]


def _mine_a_failed_transfer(chain) -> str:
    """A token transfer from an account holding no tokens: the token reverts, the block keeps it."""
    tx_hash = chain.send_transaction(
        {
            "from": chain.accounts[7],
            "to": chain.token_address,
            "data": token_contract.transfer_calldata(chain.accounts[1], 5),
            "gas": 100_000,
        }
    )
    chain.mine()
    return tx_hash


def _ingest(lake, client, **options):
    result = ingest_range(
        client, start=lake.next_block(), stored_hashes=lake.block_hashes, partition_width=WIDTH, **options
    )
    lake.apply(result)
    return result


@pytest.mark.parametrize("block_receipts", [True, False], ids=["eth_getBlockReceipts", "per-transaction"])
def test_receipt_columns_equal_the_nodes_receipts(chain, make_client, block_receipts):
    chain.serves_block_receipts = block_receipts
    chain.mine_random_blocks(4)
    failed = _mine_a_failed_transfer(chain)
    chain.mine_random_blocks(2)
    asked, requests = [], []
    chain.request_hook = lambda message: (asked.extend(_methods(message)), requests.append(_methods(message)))
    client = make_client(batch_size=3)
    lake = InMemoryLake()

    _ingest(lake, client, max_blocks=5)
    _ingest(lake, client)

    assert client.block_receipts_supported is block_receipts
    # Which way receipts are read is found out once: a node without the method is asked in one
    # request, not again for every block or every run of the same client.
    asking = [methods for methods in requests if "eth_getBlockReceipts" in methods]
    assert len(asking) == 1 if not block_receipts else len(asking) > 2
    assert ("eth_getTransactionReceipt" in asked) is not block_receipts
    rows = lake.dataset(TRANSACTIONS).to_pylist()
    assert len(rows) > 5
    for row in rows:
        truth = chain.rpc("eth_getTransactionReceipt", [row["transaction_hash"]])
        assert row["status"] == int(truth["status"], 16)
        assert row["gas_used"] == int(truth["gasUsed"], 16)
        assert row["cumulative_gas_used"] == int(truth["cumulativeGasUsed"], 16)
        assert row["effective_gas_price"] == str(int(truth["effectiveGasPrice"], 16))
        assert row["contract_address"] == (
            truth["contractAddress"].lower() if truth["contractAddress"] else None
        )
    by_hash = {row["transaction_hash"]: row for row in rows}
    assert by_hash[failed]["status"] == 0
    creation = rows[0]  # the token's deployment, block 1
    assert creation["to_address"] is None and creation["contract_address"] == chain.token_address
    assert [row["contract_address"] for row in rows[1:]] == [None] * (len(rows) - 1)


def test_the_block_receipts_method_is_used_where_the_node_has_it(chain, make_client):
    chain.mine_random_blocks(6)
    asked = []
    chain.request_hook = lambda message: asked.extend(_methods(message))

    _ingest(InMemoryLake(), make_client())

    blocks_with_transactions = sum(
        1 for n in range(chain.head + 1) if chain.rpc("eth_getBlockByNumber", [hex(n), False])["transactions"]
    )
    assert asked.count("eth_getBlockReceipts") == blocks_with_transactions
    assert "eth_getTransactionReceipt" not in asked


def _swap_first_two(receipts):
    return [receipts[1], receipts[0], *receipts[2:]]


def _drop_last(receipts):
    return receipts[:-1]


def _of_another_block(receipt):
    return {**receipt, "blockHash": "0x" + "ee" * 32}


@pytest.mark.parametrize(
    ("block_receipts", "change", "error", "message"),
    [
        (True, _swap_first_two, MalformedResponseError, "in the place of"),
        (True, _drop_last, MalformedResponseError, "receipts for"),
        (True, lambda receipts: [_of_another_block(r) for r in receipts], ChainMovedError, "chain moved"),
        (False, _of_another_block, ChainMovedError, "chain moved"),
        (
            False,
            lambda receipt: {**receipt, "transactionHash": "0x" + "ab" * 32},
            MalformedResponseError,
            "in the place of",
        ),
        (False, lambda receipt: None, ChainMovedError, "no receipt of transaction"),
    ],
)
def test_receipts_that_are_not_the_blocks_are_refused_and_nothing_is_written(
    chain, make_client, block_receipts, change, error, message
):
    chain.serves_block_receipts = block_receipts
    for _ in range(3):
        chain.mine(chain.random_transfers(3), eth_value_transfer=True)
    lake = InMemoryLake()
    method = "eth_getBlockReceipts" if block_receipts else "eth_getTransactionReceipt"
    target = chain.head

    def contradict(request, reply):
        if request["method"] != method or "result" not in reply or reply["result"] is None:
            return reply
        if block_receipts and int(request["params"][0], 16) != target:
            return reply
        if not block_receipts and reply["result"]["blockNumber"] != hex(target):
            return reply
        return {**reply, "result": change(reply["result"])}

    chain.answer_hook = contradict
    with pytest.raises(error, match=message) as raised:
        _ingest(lake, make_client())

    assert raised.value.transient
    assert lake.partitions == {}
    chain.answer_hook = None
    _ingest(lake, make_client())  # the node agreeing with itself again, the retry ingests it all
    assert lake.dataset(TRANSACTIONS)["status"].null_count == 0


def test_a_status_other_than_success_or_failure_is_refused(chain):
    block = chain.rpc("eth_getBlockByNumber", ["0x1", True])
    receipt = chain.rpc("eth_getTransactionReceipt", [block["transactions"][0]["hash"]])
    with pytest.raises(MalformedResponseError, match="status"):
        transactions_table(chain.chain_id, [block], [{**receipt, "status": "0x2"}])


def test_a_receipt_from_before_byzantium_has_no_status(chain):
    block = chain.rpc("eth_getBlockByNumber", ["0x1", True])
    receipt = chain.rpc("eth_getTransactionReceipt", [block["transactions"][0]["hash"]])
    pre_byzantium = {
        key: value for key, value in receipt.items() if key not in ("status", "effectiveGasPrice")
    }
    pre_byzantium["root"] = "0x" + "12" * 32

    (row,) = transactions_table(chain.chain_id, [block], [pre_byzantium]).to_pylist()

    assert (row["status"], row["effective_gas_price"]) == (None, None)
    assert row["gas_used"] == int(receipt["gasUsed"], 16)


def test_transactions_without_receipts_keep_null_receipt_columns(chain):
    block = chain.rpc("eth_getBlockByNumber", ["0x1", True])
    table = transactions_table(chain.chain_id, [block])
    assert table.schema == TRANSACTIONS_SCHEMA
    assert all(table[name].null_count == table.num_rows for name in RECEIPT_COLUMNS)


def test_a_partition_written_before_receipts_merges_with_new_rows(chain, make_client):
    chain.mine_random_blocks(6)
    fresh = InMemoryLake()
    _ingest(fresh, make_client())
    (key,) = {k for dataset, k in fresh.partitions if dataset == TRANSACTIONS and k == "blocks_00000000"}
    complete = fresh.partitions[(TRANSACTIONS, key)]
    old = complete.drop_columns(list(RECEIPT_COLUMNS))  # as written before receipts were read
    split = complete["block_number"][complete.num_rows // 2].as_py()
    newer = complete.filter(pa.compute.greater_equal(complete["block_number"], split))

    merged = merge_partition(old, PartitionWrite(TRANSACTIONS, key, split, newer))

    assert merged.schema == TRANSACTIONS_SCHEMA
    assert merged["transaction_hash"].to_pylist() == complete["transaction_hash"].to_pylist()
    older_rows = merged.filter(pa.compute.less(merged["block_number"], split))
    assert older_rows.num_rows and older_rows["gas_used"].null_count == older_rows.num_rows
    assert merged.filter(pa.compute.greater_equal(merged["block_number"], split)).equals(newer)
