"""Conversion of node answers to Arrow, checked against the chain itself, and Transfer decoding."""

from collections import defaultdict

import pyarrow as pa
import pytest

from chains.convert import (
    TRANSFER_TOPIC,
    blocks_table,
    decode_transfers,
    logs_table,
    transactions_table,
)
from chains.errors import MalformedResponseError
from chains.schema import (
    LOGS_SCHEMA,
    partition_bounds,
    partition_key,
    partition_keys,
)
from testkit.testchain import TokenTransfer
from testkit.token_contract import APPROVAL_TOPIC, approve_calldata


def _read(chain, make_client):
    client = make_client(batch_size=4)
    blocks = client.get_blocks(list(range(chain.head + 1)))
    logs = client.get_logs(0, chain.head)
    timestamps = {int(b["number"], 16): int(b["timestamp"], 16) for b in blocks}
    return blocks, logs_table(chain.chain_id, logs, timestamps)


def test_blocks_and_transactions_match_the_chain(chain, make_client):
    chain.mine_random_blocks(8)
    blocks, _ = _read(chain, make_client)

    block_rows = blocks_table(chain.chain_id, blocks).to_pylist()
    tx_rows = transactions_table(chain.chain_id, blocks).to_pylist()

    assert [row["block_number"] for row in block_rows] == list(range(chain.head + 1))
    expected_txs = []
    for row in block_rows:
        truth = chain.rpc("eth_getBlockByNumber", [hex(row["block_number"]), True])
        assert row["block_hash"] == truth["hash"] and row["parent_hash"] == truth["parentHash"]
        assert int(row["block_timestamp"].timestamp()) == int(truth["timestamp"], 16)
        assert row["gas_used"] == int(truth["gasUsed"], 16)
        assert row["base_fee_per_gas"] == str(int(truth["baseFeePerGas"], 16))
        assert row["transaction_count"] == len(truth["transactions"])
        expected_txs += truth["transactions"]
    assert [row["transaction_hash"] for row in tx_rows] == [tx["hash"] for tx in expected_txs]
    for row, truth in zip(tx_rows, expected_txs, strict=True):
        assert row["from_address"] == truth["from"].lower()
        assert row["to_address"] == (truth["to"].lower() if truth["to"] else None)
        assert row["value"] == str(int(truth["value"], 16))
        assert row["input"] == truth["input"].lower()
        assert row["nonce"] == int(truth["nonce"], 16)


def test_decoded_transfers_add_up_to_the_token_balances_on_chain(chain, make_client):
    holders = chain.accounts[:6]
    big = 2**70 + 12345  # beyond float and int64 precision
    chain.mine([TokenTransfer(holders[0], holders[1], big), TokenTransfer(holders[1], holders[2], 1)])
    chain.mine_random_blocks(6, max_transfers_per_block=3)
    _, logs = _read(chain, make_client)

    transfers = decode_transfers(logs).to_pylist()

    balances = defaultdict(int)
    for transfer in transfers:
        assert transfer["token_address"] == chain.token_address
        balances[transfer["from_address"]] -= int(transfer["value"])
        balances[transfer["to_address"]] += int(transfer["value"])
    assert transfers[0]["from_address"] == "0x" + "0" * 40  # the constructor's mint
    assert any(t["value"] == str(big) for t in transfers)
    for holder in holders:
        assert balances[holder] == chain.token_balance(holder)


def test_approval_logs_are_not_transfers(chain, make_client):
    owner, spender = chain.accounts[:2]
    chain.send_transaction(
        {"from": owner, "to": chain.token_address, "data": approve_calldata(spender, 5), "gas": 100_000}
    )
    chain.mine()
    _, logs = _read(chain, make_client)

    assert logs["topic0"].to_pylist().count(APPROVAL_TOPIC) == 1
    transfer_logs = logs["topic0"].to_pylist().count(TRANSFER_TOPIC)
    assert decode_transfers(logs).num_rows == transfer_logs == logs.num_rows - 1


def _log_row(**overrides):
    row = {
        "chain_id": 1,
        "block_number": 10,
        "block_hash": "0x" + "ab" * 32,
        "block_timestamp": 1_700_000_000,
        "transaction_index": 0,
        "transaction_hash": "0x" + "cd" * 32,
        "log_index": 0,
        "address": "0x" + "11" * 20,
        "topic0": TRANSFER_TOPIC,
        "topic1": "0x" + "0" * 24 + "22" * 20,
        "topic2": "0x" + "0" * 24 + "33" * 20,
        "topic3": None,
        "data": "0x" + f"{2**256 - 1:064x}",
    }
    return {**row, **overrides}


def test_decode_keeps_uint256_max_exactly_and_skips_non_erc20_shapes():
    rows = [
        _log_row(log_index=0),
        _log_row(log_index=1, topic3="0x" + "00" * 31 + "07", data="0x"),  # ERC-721: token id indexed
        _log_row(log_index=2, topic1="0x" + "ff" * 32),  # not a padded address
        _log_row(log_index=3, data="0x" + "00" * 64),  # two words: not ERC-20
    ]
    logs = pa.Table.from_pylist(rows, schema=LOGS_SCHEMA)

    transfers = decode_transfers(logs).to_pylist()

    assert [t["log_index"] for t in transfers] == [0]
    assert transfers[0]["value"] == str(2**256 - 1)
    assert transfers[0]["from_address"] == "0x" + "22" * 20
    assert transfers[0]["to_address"] == "0x" + "33" * 20


@pytest.mark.parametrize(
    "broken",
    [
        {"hash": "0x1234"},  # too short for a hash
        {"gasUsed": 21000},  # a number where a hex quantity belongs
        {"timestamp": None},
        {"parentHash": "0x" + "zz" * 32},
    ],
)
def test_malformed_block_fields_are_refused(chain, make_client, broken):
    block = make_client().get_blocks([1])[0]

    with pytest.raises(MalformedResponseError, match="malformed block"):
        blocks_table(chain.chain_id, [{**block, **broken}])


def test_malformed_transaction_is_refused(chain, make_client):
    block = make_client().get_blocks([1])[0]
    bad = {**block, "transactions": [{**block["transactions"][0], "from": "0x1234"}]}

    with pytest.raises(MalformedResponseError, match="malformed transaction"):
        transactions_table(chain.chain_id, [bad])


def test_removed_logs_are_refused(chain, make_client):
    logs = make_client().get_logs(0, chain.head)

    with pytest.raises(MalformedResponseError, match="removed"):
        logs_table(chain.chain_id, [{**logs[0], "removed": True}], {1: 0})


def test_partition_keys_cover_block_ranges():
    assert partition_key(12345) == "blocks_00012000"
    assert partition_key(999, width=1000) == "blocks_00000000"
    assert partition_bounds("blocks_00012000") == (12000, 12999)
    assert partition_keys(995, 2001) == ["blocks_00000000", "blocks_00001000", "blocks_00002000"]
    assert partition_keys(8, 11, width=4) == ["blocks_00000008"]
    with pytest.raises(ValueError, match="does not start a partition"):
        partition_bounds("blocks_00012500")


def _one_log(**overrides):
    log = {
        "blockNumber": "0xa",
        "blockHash": "0x" + "AB" * 32,
        "transactionIndex": "0x0",
        "transactionHash": "0x" + "cd" * 32,
        "logIndex": "0x1",
        "address": "0x" + "Ee" * 20,
        "topics": [TRANSFER_TOPIC.upper().replace("0X", "0x"), "0x" + "00" * 12 + "22" * 20],
        "data": "0x" + "FF" * 32,
        "removed": False,
    }
    return {**log, **overrides}


def test_log_columns_are_lower_case_with_missing_topics_null():
    row = logs_table(1, [_one_log()], {10: 1_700_000_000}).to_pylist()[0]

    assert row["block_hash"] == "0x" + "ab" * 32
    assert row["address"] == "0x" + "ee" * 20
    assert row["topic0"] == TRANSFER_TOPIC
    assert (row["topic2"], row["topic3"]) == (None, None)
    assert row["data"] == "0x" + "ff" * 32
    assert (row["block_number"], row["log_index"]) == (10, 1)
    assert int(row["block_timestamp"].timestamp()) == 1_700_000_000


def test_an_upper_case_prefix_alone_is_lowered_and_lower_case_columns_pass_unchanged():
    # Every digit lower-case but one "0X": the column still has to be lowered.
    row = logs_table(1, [_one_log(address="0X" + "ee" * 20, transactionHash="0X" + "cd" * 32)], {10: 0})
    assert row.to_pylist()[0]["address"] == "0x" + "ee" * 20
    assert row.to_pylist()[0]["transaction_hash"] == "0x" + "cd" * 32
    lower = _one_log(blockHash="0x" + "ab" * 32, address="0x" + "ee" * 20, data="0x" + "ff" * 32)
    assert logs_table(1, [lower, lower], {10: 0}).to_pylist()[1]["data"] == "0x" + "ff" * 32


@pytest.mark.parametrize(
    ("broken", "field"),
    [
        ({"address": "0x" + "11" * 19}, "address"),  # 38 digits
        ({"data": "0x123"}, "data"),  # odd length
        ({"data": "0x" + "gg" * 32}, "data"),
        ({"transactionHash": "cd" * 33}, "transactionHash"),  # no 0x
        ({"topics": [TRANSFER_TOPIC, None]}, "topic1"),
        ({"topics": [TRANSFER_TOPIC, "0x" + "zz" * 32]}, "topic1"),
        ({"topics": [TRANSFER_TOPIC] * 5}, "5 topics"),
        ({"logIndex": 1}, "logIndex"),  # a JSON number where a hex quantity belongs
        ({"blockNumber": "12"}, "blockNumber"),  # decimal, not hex
    ],
)
def test_malformed_log_fields_are_refused_naming_the_field(broken, field):
    good = _one_log(logIndex="0x0")

    with pytest.raises(MalformedResponseError, match=f"malformed log.*{field}"):
        logs_table(1, [good, _one_log(**broken)], {10: 0})


def test_a_log_of_a_block_not_read_is_refused():
    with pytest.raises(MalformedResponseError, match="block 11, which is not among the blocks read"):
        logs_table(1, [_one_log(blockNumber="0xb")], {10: 0})


def test_transaction_naming_another_block_is_refused(chain, make_client):
    block = make_client().get_blocks([1])[0]
    moved = {**block["transactions"][0], "blockHash": "0x" + "00" * 32}

    with pytest.raises(MalformedResponseError, match="does not belong to block 1"):
        transactions_table(chain.chain_id, [{**block, "transactions": [moved]}])


def test_uint256_quantities_stay_exact_in_transactions(chain, make_client):
    block = make_client().get_blocks([1])[0]
    rich = {**block["transactions"][0], "value": hex(2**256 - 1), "from": "0x" + "AA" * 20}

    row = transactions_table(chain.chain_id, [{**block, "transactions": [rich]}]).to_pylist()[0]

    assert row["value"] == str(2**256 - 1)
    assert row["from_address"] == "0x" + "aa" * 20


def test_empty_answers_give_empty_tables():
    assert logs_table(1, [], {}).num_rows == 0
    assert blocks_table(1, []).num_rows == 0
    assert transactions_table(1, []).num_rows == 0


def test_quantities_wider_than_their_column_are_refused_and_leading_zeros_are_not():
    padded = _one_log(logIndex="0x" + "0" * 20 + "7", transactionIndex="0X1")
    with pytest.raises(MalformedResponseError, match="transactionIndex"):
        logs_table(1, [padded], {10: 0})  # a quantity is written "0x…", never "0X…"

    row = logs_table(1, [{**padded, "transactionIndex": "0x1"}], {10: 0}).to_pylist()[0]
    assert row["log_index"] == 7
    with pytest.raises(MalformedResponseError, match="logIndex does not fit in 64 bits"):
        logs_table(1, [_one_log(logIndex=hex(2**64))], {10: 0})
    with pytest.raises(MalformedResponseError, match="malformed log"):
        logs_table(1, [_one_log(logIndex=hex(2**31))], {10: 0})  # an int32 column


def test_uint256_quantities_are_exact_on_both_sides_of_64_bits(chain, make_client):
    block = make_client().get_blocks([1])[0]
    values = [0, 1, 2**64 - 1, 2**64, 10**18 + 1, 2**255 + 3]
    txs = [{**block["transactions"][0], "value": hex(value)} for value in values]

    rows = transactions_table(chain.chain_id, [{**block, "transactions": txs}]).to_pylist()

    assert [row["value"] for row in rows] == [str(value) for value in values]
