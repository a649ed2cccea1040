"""The synthetic chain's demo layout has the shape of a real chain (whales and a long tail, popular
tokens, values over orders of magnitude, a daily cycle), stays deterministic, and keeps the chain
invariants ingestion relies on."""

from collections import Counter
from fractions import Fraction

import pyarrow as pa
import pytest

from chains.convert import decode_transfers
from chains.operators.synthetic_chain import generate, partition_key
from chains.synthetic_activity import TOKEN_DECIMALS, VALUE_PLACES, token_addresses

SEED = "demo"
# A day and a bit of blocks (12 s each): every hour of the day is seen in full at least once.
BLOCKS, WIDTH = 7500, 2500
CONFIG = {"end_block": BLOCKS - 1, "partition_size": WIDTH, "seed": SEED, "layout": "evm"}


def partitions(config: dict) -> list[dict[str, pa.Table]]:
    return [generate(config, partition_key(first)) for first in range(0, config["end_block"] + 1, WIDTH)]


@pytest.fixture(scope="module")
def chain() -> list[dict[str, pa.Table]]:
    return partitions(CONFIG)


@pytest.fixture(scope="module")
def transfers(chain) -> pa.Table:
    return pa.concat_tables([decode_transfers(tables["evm.logs"]) for tables in chain])


def test_a_few_senders_send_most_and_a_long_tail_sends_once(transfers):
    assert transfers.num_rows > 5000
    counts = sorted(Counter(transfers["from_address"].to_pylist()).values(), reverse=True)
    top = counts[: max(1, len(counts) // 100)]
    assert sum(top) > 0.2 * transfers.num_rows
    assert counts[-1] == 1 and counts.count(1) > len(counts) // 4
    recipients = sorted(Counter(transfers["to_address"].to_pylist()).values(), reverse=True)
    assert sum(recipients[: max(1, len(recipients) // 100)]) > 0.2 * transfers.num_rows
    assert recipients[-1] == 1
    pairs = zip(transfers["from_address"].to_pylist(), transfers["to_address"].to_pylist(), strict=True)
    assert not any(sender == recipient for sender, recipient in pairs)


def test_a_few_tokens_carry_most_transfers(transfers):
    by_token = Counter(transfers["token_address"].to_pylist())
    assert set(by_token) == set(token_addresses(SEED))  # every token still appears
    counts = sorted(by_token.values(), reverse=True)
    assert sum(counts[:3]) > 0.6 * transfers.num_rows
    assert counts[0] > 10 * counts[-1]


def test_values_span_orders_of_magnitude_in_each_tokens_base_units(transfers):
    decimals = dict(zip(token_addresses(SEED), TOKEN_DECIMALS, strict=True))
    amounts = []
    for token, value in zip(
        transfers["token_address"].to_pylist(), transfers["value"].to_pylist(), strict=True
    ):
        raw = int(value)
        assert value == str(raw) and 0 < raw < 2**256
        # Base units of the token: at most VALUE_PLACES decimal places of a whole token.
        assert raw % 10 ** (decimals[token] - min(decimals[token], VALUE_PLACES)) == 0
        amounts.append(Fraction(raw, 10 ** decimals[token]))
    amounts.sort()
    median = amounts[len(amounts) // 2]
    assert amounts[-1] / amounts[0] > 10**8
    assert amounts[int(len(amounts) * 0.99)] / median > 50  # a heavy upper tail
    assert amounts[-1] / median > 10**5  # and a few whales far above it
    assert len(set(amounts)) > 0.9 * len(amounts)


def test_activity_follows_the_day(transfers):
    per_hour = Counter()
    for time in transfers["block_timestamp"].to_pylist():
        if time.day == 1:  # the first day is complete
            per_hour[time.hour] += 1
    assert len(per_hour) == 24
    assert max(per_hour.values()) > 3 * min(per_hour.values())
    afternoon = sum(per_hour[h] for h in range(12, 18))
    night = sum(per_hour[h] for h in range(0, 6))
    assert afternoon > 2.5 * night
    blocks = generate(CONFIG, partition_key(0))["evm.blocks"]
    assert len(set(blocks["transaction_count"].to_pylist())) > 4  # blocks' loads vary


def test_the_same_config_gives_the_same_bytes_and_a_growing_chain_keeps_its_blocks(chain):
    again = partitions(CONFIG)
    for first, second in zip(chain, again, strict=True):
        for name, table in first.items():
            assert _ipc_bytes(table) == _ipc_bytes(second[name]), name
    # The chain grows inside a partition: the blocks it had are unchanged.
    shorter = generate({**CONFIG, "end_block": 1199}, partition_key(0))
    for name, table in shorter.items():
        longer = chain[0][name]
        assert table.num_rows and table.equals(longer.slice(0, table.num_rows)), name
    # Another seed or chain is another chain.
    other = generate({**CONFIG, "seed": "other"}, partition_key(0))["evm.logs"]
    assert other["topic1"].to_pylist() != chain[0]["evm.logs"]["topic1"].to_pylist()


def test_chain_invariants_hold(chain):
    blocks = pa.concat_tables([tables["evm.blocks"] for tables in chain])
    transactions = pa.concat_tables([tables["evm.transactions"] for tables in chain])
    logs = pa.concat_tables([tables["evm.logs"] for tables in chain])
    numbers = blocks["block_number"].to_pylist()
    hashes = blocks["block_hash"].to_pylist()
    assert numbers == list(range(BLOCKS))
    assert blocks["parent_hash"].to_pylist()[1:] == hashes[:-1]
    assert sum(blocks["transaction_count"].to_pylist()) == transactions.num_rows
    assert len(set(transactions["transaction_hash"].to_pylist())) == transactions.num_rows
    assert transactions["status"].to_pylist() == [1] * transactions.num_rows
    assert transactions["gas_used"].null_count == 0
    per_block: dict[int, list[int]] = {}
    for number, index in zip(logs["block_number"].to_pylist(), logs["log_index"].to_pylist(), strict=True):
        per_block.setdefault(number, []).append(index)
    assert all(indices == list(range(len(indices))) for indices in per_block.values())
    # Each transaction's sender is its Transfer's sender, and it calls the token it moves.
    tx_hashes = transactions["transaction_hash"].to_pylist()
    senders = dict(zip(tx_hashes, transactions["from_address"].to_pylist(), strict=True))
    tokens = dict(zip(tx_hashes, transactions["to_address"].to_pylist(), strict=True))
    decoded = decode_transfers(logs)
    assert decoded.num_rows == logs.num_rows
    for row in decoded.select(["transaction_hash", "from_address", "token_address"]).to_pylist():
        assert senders[row["transaction_hash"]] == row["from_address"]
        assert tokens[row["transaction_hash"]] == row["token_address"]


def _ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()
