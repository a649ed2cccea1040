"""``synthetic_chain``: deterministic demo blocks, transactions and logs, so the platform runs with
no chain node. Same config, same bytes: a rebuild reproduces the partition exactly.

Writes ``<ns>.blocks``, ``<ns>.transactions`` and ``<ns>.logs`` (whichever are in
``output_datasets``, all in one namespace ``ns``: ``evm``, ``base``, ...) in block-range partitions
named ``blocks_<first block, 8 digits>``.

``config``: ``chain_id`` (1), ``start_block`` (0), ``end_block`` (inclusive, required),
``partition_size`` (1000), ``txs_per_block`` (3), ``logs_per_tx`` (1), ``seed`` (0), ``layout``
(``"compact"``, the default: a few columns per dataset and evenly spread made-up rows, for the
engine's tests; ``"evm"``: exactly the schemas the ``evm_rpc`` source writes, with real ERC-20
``Transfer`` logs and transaction receipts, so a pipeline built on the synthetic source runs
unchanged on a real node, and the activity of a real chain: see :mod:`chains.synthetic_activity`;
there ``txs_per_block`` is the mean at the busiest hour of the day).
"""

from __future__ import annotations

import pyarrow as pa

from chains.operators.evm_rpc import output_namespace_error
from chains.schema import SOURCE_KINDS, kind_of
from chains.synthetic_activity import (
    Activity,
    account_pool,
    address,
    block_timestamp,
    draw,
    hash_hex,
    token_addresses,
)
from orchestration.operators import register
from orchestration.operators.base import Operator, TaskContext

LAYOUTS = ("compact", "evm")


def partition_key(first_block: int) -> str:
    return f"blocks_{first_block:08d}"


def partition_range(key: str, size: int) -> range:
    first = int(key.removeprefix("blocks_"))
    return range(first, first + size)


def _settings(config: dict) -> dict:
    return {
        "chain_id": int(config.get("chain_id", 1)),
        "start_block": int(config.get("start_block", 0)),
        "end_block": int(config["end_block"]),
        "partition_size": int(config.get("partition_size", 1000)),
        "txs_per_block": int(config.get("txs_per_block", 3)),
        "logs_per_tx": int(config.get("logs_per_tx", 1)),
        "seed": config.get("seed", 0),
        "layout": config.get("layout", "compact"),
    }


def generate(config: dict, key: str) -> dict[str, pa.Table]:
    """The three tables of one block-range partition, keyed by the default namespace's dataset
    names (the tables of ``<ns>.logs`` are those of ``evm.logs``: the chain is in ``chain_id``)."""
    s = _settings(config)
    if s["layout"] == "evm":
        return generate_evm_layout(s, key)
    seed, chain = s["seed"], s["chain_id"]
    numbers = [
        n for n in partition_range(key, s["partition_size"]) if s["start_block"] <= n <= s["end_block"]
    ]
    blocks: dict[str, list] = {
        k: []
        for k in (
            "block_number",
            "block_hash",
            "parent_hash",
            "timestamp",
            "miner",
            "gas_used",
            "tx_count",
            "chain_id",
        )
    }
    txs: dict[str, list] = {
        k: []
        for k in (
            "block_number",
            "tx_index",
            "tx_hash",
            "from_address",
            "to_address",
            "value_gwei",
            "gas",
            "chain_id",
        )
    }
    logs: dict[str, list] = {
        k: [] for k in ("block_number", "tx_hash", "log_index", "address", "topic0", "amount", "chain_id")
    }
    for number in numbers:
        tx_count = (number * 7 + len(str(seed))) % (s["txs_per_block"] + 1) if s["txs_per_block"] else 0
        blocks["block_number"].append(number)
        blocks["block_hash"].append(hash_hex(seed, chain, "block", number))
        blocks["parent_hash"].append(
            hash_hex(seed, chain, "block", number - 1) if number else "0x" + "0" * 64
        )
        blocks["timestamp"].append(block_timestamp(number))
        blocks["miner"].append(address(seed, "miner", number % 5))
        blocks["gas_used"].append(21_000 * tx_count + number % 1000)
        blocks["tx_count"].append(tx_count)
        blocks["chain_id"].append(chain)
        for index in range(tx_count):
            tx_hash = hash_hex(seed, chain, "tx", number, index)
            txs["block_number"].append(number)
            txs["tx_index"].append(index)
            txs["tx_hash"].append(tx_hash)
            txs["from_address"].append(address(seed, "from", (number + index) % 50))
            txs["to_address"].append(address(seed, "to", (number * 3 + index) % 40))
            txs["value_gwei"].append((number * 1_000_003 + index * 7919) % 10_000_000)
            txs["gas"].append(21_000 + (number + index) % 50_000)
            txs["chain_id"].append(chain)
            for log_index in range(s["logs_per_tx"]):
                logs["block_number"].append(number)
                logs["tx_hash"].append(tx_hash)
                logs["log_index"].append(index * s["logs_per_tx"] + log_index)
                logs["address"].append(address(seed, "token", (number + log_index) % 10))
                logs["topic0"].append(hash_hex("Transfer(address,address,uint256)")[:66])
                logs["amount"].append((number * 31 + index * 17 + log_index) % 1_000_000)
                logs["chain_id"].append(chain)
    int64 = pa.int64()
    return {
        "evm.blocks": pa.table(
            {
                "block_number": pa.array(blocks["block_number"], int64),
                "block_hash": pa.array(blocks["block_hash"], pa.string()),
                "parent_hash": pa.array(blocks["parent_hash"], pa.string()),
                "timestamp": pa.array(blocks["timestamp"], int64).cast(pa.timestamp("s", tz="UTC")),
                "miner": pa.array(blocks["miner"], pa.string()),
                "gas_used": pa.array(blocks["gas_used"], int64),
                "tx_count": pa.array(blocks["tx_count"], pa.int32()),
                "chain_id": pa.array(blocks["chain_id"], int64),
            }
        ),
        "evm.transactions": pa.table(
            {
                "block_number": pa.array(txs["block_number"], int64),
                "tx_index": pa.array(txs["tx_index"], pa.int32()),
                "tx_hash": pa.array(txs["tx_hash"], pa.string()),
                "from_address": pa.array(txs["from_address"], pa.string()),
                "to_address": pa.array(txs["to_address"], pa.string()),
                "value_gwei": pa.array(txs["value_gwei"], int64),
                "gas": pa.array(txs["gas"], int64),
                "chain_id": pa.array(txs["chain_id"], int64),
            }
        ),
        "evm.logs": pa.table(
            {
                "block_number": pa.array(logs["block_number"], int64),
                "tx_hash": pa.array(logs["tx_hash"], pa.string()),
                "log_index": pa.array(logs["log_index"], pa.int32()),
                "address": pa.array(logs["address"], pa.string()),
                "topic0": pa.array(logs["topic0"], pa.string()),
                "amount": pa.array(logs["amount"], int64),
                "chain_id": pa.array(logs["chain_id"], int64),
            }
        ),
    }


def _word(value: int) -> str:
    return "0x" + f"{value:064x}"


def activity(s: dict, key: str) -> Activity:
    """The draws of the whole partition range of ``key`` (blocks outside the config's range are
    drawn and dropped, so that a partition's blocks do not change when the chain grows)."""
    blocks = partition_range(key, s["partition_size"])
    return draw(
        seed=s["seed"],
        chain_id=s["chain_id"],
        first=blocks.start,
        size=len(blocks),
        txs_per_block=s["txs_per_block"],
        logs_per_tx=s["logs_per_tx"],
    )


def generate_evm_layout(s: dict, key: str) -> dict[str, pa.Table]:
    """The partition as a node would answer it (JSON-RPC blocks, transactions and logs), converted
    by the same code as evm_rpc's: every log is an ERC-20 Transfer of one of the ten tokens, with
    the shape of :func:`activity` (busy afternoons, whales, popular tokens, heavy-tailed values)."""
    from chains.convert import TRANSFER_TOPIC, blocks_table, logs_table, transactions_table

    seed, chain = s["seed"], s["chain_id"]
    drawn = activity(s, key)
    accounts, tokens = account_pool(seed), token_addresses(seed)
    blocks, logs, receipts = [], [], []
    tx_cursor = log_cursor = 0
    for number, tx_count in zip(drawn.numbers, drawn.tx_counts, strict=True):
        tx_first, tx_cursor = tx_cursor, tx_cursor + tx_count
        log_first, log_cursor = log_cursor, log_cursor + tx_count * s["logs_per_tx"]
        if not s["start_block"] <= number <= s["end_block"]:
            continue
        block_hash = hash_hex(seed, chain, "block", number)
        transactions = []
        cumulative_gas = 0
        for index in range(tx_count):
            tx_hash = hash_hex(seed, chain, "tx", number, index)
            sender = accounts[drawn.senders[tx_first + index]]
            token = tokens[drawn.tokens[tx_first + index]]
            transactions.append(
                {
                    "blockNumber": hex(number),
                    "blockHash": block_hash,
                    "transactionIndex": hex(index),
                    "hash": tx_hash,
                    "from": sender,
                    "to": token,
                    "value": "0x0",
                    "gas": hex(60_000),
                    "gasPrice": hex(10**9 + number),
                    "nonce": hex(number),
                    "input": "0xa9059cbb",
                    "type": "0x0",
                }
            )
            # A token transfer costs some 35,000-50,000 gas of its 60,000 limit; a legacy
            # transaction pays its gas price.
            gas_used = 35_000 + (number * 13 + index * 101) % 15_000
            cumulative_gas += gas_used
            receipts.append(
                {
                    "blockNumber": hex(number),
                    "blockHash": block_hash,
                    "transactionHash": tx_hash,
                    "status": "0x1",
                    "gasUsed": hex(gas_used),
                    "cumulativeGasUsed": hex(cumulative_gas),
                    "effectiveGasPrice": hex(10**9 + number),
                    "contractAddress": None,
                }
            )
            for log_index in range(s["logs_per_tx"]):
                at = log_first + index * s["logs_per_tx"] + log_index
                recipient = accounts[drawn.recipients[at]]
                logs.append(
                    {
                        "blockNumber": hex(number),
                        "blockHash": block_hash,
                        "transactionIndex": hex(index),
                        "transactionHash": tx_hash,
                        "logIndex": hex(index * s["logs_per_tx"] + log_index),
                        "address": token,
                        "topics": [
                            TRANSFER_TOPIC,
                            "0x" + "0" * 24 + sender[2:],
                            "0x" + "0" * 24 + recipient[2:],
                        ],
                        "data": _word(drawn.values[at]),
                    }
                )
        blocks.append(
            {
                "number": hex(number),
                "hash": block_hash,
                "parentHash": hash_hex(seed, chain, "block", number - 1) if number else "0x" + "0" * 64,
                "timestamp": hex(block_timestamp(number)),
                "miner": address(seed, "miner", number % 5),
                "gasLimit": hex(30_000_000),
                "gasUsed": hex(cumulative_gas),
                "baseFeePerGas": hex(10**9),
                "transactions": transactions,
            }
        )
    timestamps = {int(block["number"], 16): block_timestamp(int(block["number"], 16)) for block in blocks}
    return {
        "evm.blocks": blocks_table(chain, blocks),
        "evm.transactions": transactions_table(chain, blocks, receipts),
        "evm.logs": logs_table(chain, logs, timestamps),
    }


@register
class SyntheticChainOperator(Operator):
    name = "synthetic_chain"
    runtimes = ("source",)
    is_source = True

    def validate(self, job) -> dict[str, str]:
        errors = {}
        config = job.config or {}
        try:
            s = _settings(config)
            if s["partition_size"] < 1 or s["end_block"] < s["start_block"] or s["start_block"] < 0:
                raise ValueError
            if s["layout"] not in LAYOUTS:
                raise ValueError
        except (KeyError, TypeError, ValueError):
            errors["config"] = (
                "synthetic_chain needs integer end_block >= start_block >= 0, partition_size >= 1 and "
                f"layout one of {', '.join(LAYOUTS)}"
            )
        outputs = list(job.output_datasets or [])
        if problem := output_namespace_error(outputs, "synthetic_chain", SOURCE_KINDS):
            errors["output_datasets"] = problem
        if job.input_datasets:
            errors["input_datasets"] = "a source job has no input datasets"
        return errors

    def expected_partitions(self, job) -> list[str]:
        s = _settings(job.config)
        size = s["partition_size"]
        first = s["start_block"] - s["start_block"] % size
        return [partition_key(n) for n in range(first, s["end_block"] + 1, size)]

    def run(self, ctx: TaskContext) -> None:
        for key in ctx.partitions:
            tables = {kind_of(dataset): table for dataset, table in generate(ctx.job.config, key).items()}
            for dataset in ctx.job.output_datasets:
                ctx.write(dataset, key, tables[kind_of(dataset)])
