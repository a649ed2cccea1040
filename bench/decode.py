"""ABI decoding throughput: logs/s of `chains.abi.decode_logs` against eth-abi decoding one log at a
time, on mainnet-shaped logs.

The logs are generated (seeded): ERC-20 Transfer and Approval (a few thousand Zipf-popular token
contracts and holders, amounts heavy-tailed over 6-, 8- and 18-decimal tokens, a share of
unlimited 2**256-1 approvals), Uniswap v2 Swaps (two of four amounts zero, as a swap has) and v3
Swaps (signed amounts, sqrtPriceX96, liquidity, negative and positive ticks). The mixed workload
adds ERC-1155 TransferSingle, TransferBatch (uint256[] ids and values) and URI (string) logs.

Splitting logs by topic0 is the caller's job and is done before the clock starts; each event's
table is then decoded in one call, and the rate is all logs over the summed decode time (the best
of --rounds). The baseline decodes a sample of the same logs with `eth_abi.decode`, one log at a
time (data, then each indexed topic), in the same run; its values are compared with ours.

Targets: static events >= 1,000,000 logs/s and >= 20x the baseline; the mixed workload >= 200,000
logs/s. Exits 1 when one is missed. The last line is one JSON object.

Usage: .venv/bin/python -m bench.decode [--logs 1000000] [--rounds 3] [--baseline-sample 20000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import eth_abi
import numpy as np
import pyarrow as pa

from chains.abi.decode import decode_logs
from chains.abi.spec import Event
from chains.abi.standards import standard
from chains.schema import LOGS_SCHEMA

STATIC_TARGET = 1_000_000
RATIO_TARGET = 20
MIXED_TARGET = 200_000

ERC20 = standard("erc20")
ERC1155 = standard("erc1155")
STATIC_MIX = (  # event, share of the logs
    (ERC20.event("Transfer"), 0.72),
    (ERC20.event("Approval"), 0.10),
    (standard("uniswap_v2_pair").event("Swap"), 0.09),
    (standard("uniswap_v3_pool").event("Swap"), 0.09),
)
DYNAMIC_MIX = (  # added to the static logs for the mixed workload, as shares of --logs
    (ERC1155.event("TransferSingle"), 0.03),
    (ERC1155.event("TransferBatch"), 0.03),
    (ERC1155.event("URI"), 0.01),
)


class LogMaker:
    """Mainnet-looking logs of one event at a time, from one seeded generator."""

    def __init__(self, seed: int = 42) -> None:
        self.rng = np.random.default_rng(seed)
        self.holders = [self.rng.bytes(20).hex() for _ in range(50_000)]
        self.contracts = [self.rng.bytes(20).hex() for _ in range(5_000)]
        self.next_block = 17_000_000

    def _popular(self, pool: list[str], count: int) -> list[str]:
        ranks = np.minimum(self.rng.zipf(1.3, count) - 1, len(pool) - 1)
        return [pool[rank] for rank in ranks]

    def _topics(self, pool: list[str], count: int) -> list[str]:
        return ["0x" + "0" * 24 + address for address in self._popular(pool, count)]

    def amounts(self, count: int, zero_share: float = 0.0) -> list[int]:
        """Token amounts in base units: log-normal in whole tokens, times 10**decimals."""
        decimals = self.rng.choice([18, 6, 8], size=count, p=[0.6, 0.3, 0.1])
        whole = 10 ** self.rng.normal(1.5, 2.0, size=count)
        units = [
            int(w * 10**6) * 10 ** (int(d) - 6) if d >= 6 else int(w)
            for w, d in zip(whole, decimals, strict=True)
        ]
        zero = self.rng.random(count) < zero_share
        return [0 if z else u for u, z in zip(units, zero, strict=True)]

    @staticmethod
    def _words(*columns: list[int]) -> list[str]:
        """Rows of 32-byte words as 0x-hex (negative values in two's complement)."""
        rows = zip(*columns, strict=True)
        return ["0x" + "".join(f"{value % (1 << 256):064x}" for value in values) for values in rows]

    def logs(self, event: Event, count: int) -> dict[str, list]:
        name = event.signature
        topics: list[list[str]] = []
        if name == "Transfer(address,address,uint256)" or name == "Approval(address,address,uint256)":
            topics = [self._topics(self.holders, count), self._topics(self.holders, count)]
            amounts = self.amounts(count)
            if name.startswith("Approval"):
                unlimited = self.rng.random(count) < 0.3
                amounts = [(1 << 256) - 1 if u else a for a, u in zip(amounts, unlimited, strict=True)]
            data = self._words(amounts)
        elif name.startswith("Swap(address,uint256"):  # Uniswap v2
            topics = [self._topics(self.contracts, count), self._topics(self.holders, count)]
            token0_in = self.rng.random(count) < 0.5
            amount_in, amount_out = self.amounts(count), self.amounts(count)
            data = self._words(
                [a if t else 0 for a, t in zip(amount_in, token0_in, strict=True)],
                [0 if t else a for a, t in zip(amount_in, token0_in, strict=True)],
                [0 if t else a for a, t in zip(amount_out, token0_in, strict=True)],
                [a if t else 0 for a, t in zip(amount_out, token0_in, strict=True)],
            )
        elif name.startswith("Swap(address,address,int256"):  # Uniswap v3
            topics = [self._topics(self.contracts, count), self._topics(self.holders, count)]
            sign = np.where(self.rng.random(count) < 0.5, 1, -1)
            amount0 = [int(s) * a for s, a in zip(sign, self.amounts(count), strict=True)]
            amount1 = [-int(s) * a for s, a in zip(sign, self.amounts(count), strict=True)]
            ticks = self.rng.integers(-887_272, 887_272, size=count)
            sqrt_prices = [int(1.0001 ** (int(t) / 2) * 2**96) for t in ticks]
            liquidity = [int(x) for x in 10 ** self.rng.uniform(15, 24, size=count)]
            data = self._words(amount0, amount1, sqrt_prices, liquidity, [int(t) for t in ticks])
        elif name.startswith("TransferSingle"):
            topics = [
                self._topics(self.contracts, count),
                *(self._topics(self.holders, count) for _ in range(2)),
            ]
            ids = [int(i) for i in self.rng.integers(0, 10_000, size=count)]
            data = self._words(ids, [int(v) for v in self.rng.integers(1, 100, size=count)])
        elif name.startswith("TransferBatch"):
            topics = [
                self._topics(self.contracts, count),
                *(self._topics(self.holders, count) for _ in range(2)),
            ]
            sizes = self.rng.integers(1, 8, size=count)
            data = [
                "0x"
                + eth_abi.encode(
                    ["uint256[]", "uint256[]"],
                    [
                        [int(i) for i in self.rng.integers(0, 10**6, size=size)],
                        [int(v) for v in self.rng.integers(1, 1000, size=size)],
                    ],
                ).hex()
                for size in sizes
            ]
        elif name.startswith("URI"):
            ids = [int(i) for i in self.rng.integers(0, 10**6, size=count)]
            topics = [[f"0x{i:064x}" for i in ids]]
            data = ["0x" + eth_abi.encode(["string"], [f"ipfs://bafybeig{i:x}/{i}.json"]).hex() for i in ids]
        else:
            raise ValueError(f"no generator for {name}")
        return self._table_columns(event, count, topics, data)

    def _table_columns(self, event: Event, count: int, topics: list[list[str]], data: list[str]) -> dict:
        blocks = self.next_block + np.arange(count) // 300
        self.next_block = int(blocks[-1]) + 1
        hashes = self.rng.bytes(32 * count).hex()
        none = [None] * count
        columns = {
            "chain_id": np.ones(count, dtype=np.int64),
            "block_number": blocks,
            "block_hash": [f"0x{int(b):064x}" for b in blocks],
            "block_timestamp": (1_680_000_000 + (blocks - 17_000_000) * 12).astype("datetime64[s]"),
            "transaction_index": (np.arange(count) % 300 // 2).astype(np.int32),
            "transaction_hash": ["0x" + hashes[64 * i : 64 * i + 64] for i in range(count)],
            "log_index": (np.arange(count) % 300).astype(np.int32),
            "address": ["0x" + a for a in self._popular(self.contracts, count)],
            "topic0": [event.topic0] * count,
            "data": data,
        }
        for position in range(3):
            columns[f"topic{position + 1}"] = topics[position] if position < len(topics) else none
        return columns


def logs_table(columns: dict) -> pa.Table:
    arrays = []
    for field in LOGS_SCHEMA:
        if field.name == "block_timestamp":
            arrays.append(pa.array(columns[field.name]).cast(pa.timestamp("s")).cast(field.type))
        else:
            arrays.append(pa.array(columns[field.name], field.type))
    return pa.Table.from_arrays(arrays, schema=LOGS_SCHEMA)


def baseline(table: pa.Table, event: Event) -> list[dict]:
    """eth-abi, one log at a time, into the same values our columns hold."""
    data_types = [param.type.canonical for param in event.data_params]
    indexed = event.indexed
    rows = []
    topic_columns = [table.column(f"topic{i + 1}").to_pylist() for i in range(len(indexed))]
    for position, data in enumerate(table.column("data").to_pylist()):
        values = list(eth_abi.decode(data_types, bytes.fromhex(data[2:])))
        topics = [
            eth_abi.decode([param.type.canonical], bytes.fromhex(column[position][2:]))[0]
            for param, column in zip(indexed, topic_columns, strict=True)
        ]
        row, data_iter, topic_iter = {}, iter(values), iter(topics)
        for param in event.params:
            value = next(topic_iter) if param.indexed else next(data_iter)
            row[param.name] = _as_column_value(param.type.canonical, value)
        rows.append(row)
    return rows


def _as_column_value(canonical: str, value):
    if isinstance(value, tuple | list):
        return [_as_column_value(canonical.rstrip("[]"), item) for item in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        bits = int(canonical.lstrip("uint") or 256)
        return value if bits <= 32 else str(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value.lower() if canonical == "address" else value


def _decode_all(tables: list[tuple[Event, pa.Table]]) -> tuple[float, int]:
    started = time.perf_counter()
    decoded = 0
    for event, table in tables:
        result = decode_logs(table, event)
        if result.errors.num_rows:
            raise SystemExit(
                f"{event.signature}: {result.errors.num_rows} error rows, e.g. {result.errors[-1:]}"
            )
        decoded += result.table.num_rows
    return time.perf_counter() - started, decoded


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline-sample", type=int, default=20_000)
    args = parser.parse_args()

    started = time.perf_counter()
    maker = LogMaker()
    static = [(event, logs_table(maker.logs(event, int(args.logs * share)))) for event, share in STATIC_MIX]
    dynamic = [(event, logs_table(maker.logs(event, int(args.logs * share)))) for event, share in DYNAMIC_MIX]
    static_logs = sum(table.num_rows for _, table in static)
    mixed_logs = static_logs + sum(table.num_rows for _, table in dynamic)
    print(f"generated {mixed_logs} logs in {time.perf_counter() - started:.1f}s")

    # The baseline and a check of our values against it, on the first logs of each event.
    sample_share = args.baseline_sample / mixed_logs
    baseline_seconds = baseline_logs = 0
    for event, table in static + dynamic:
        sample = table.slice(0, max(1, int(table.num_rows * sample_share)))
        begun = time.perf_counter()
        expected = baseline(sample, event)
        baseline_seconds += time.perf_counter() - begun
        baseline_logs += sample.num_rows
        ours = decode_logs(sample, event).table.to_pylist()
        columns = list(ours[0])[-len(event.params) :]
        for mine, theirs in zip(ours, expected, strict=True):
            if [mine[c] for c in columns] != list(theirs.values()):
                print(f"MISMATCH in {event.signature}: {mine} vs {theirs}")
                return 1
    baseline_rate = baseline_logs / baseline_seconds
    print(f"baseline eth-abi per log: {baseline_rate:,.0f} logs/s on {baseline_logs} logs (values agree)")

    best_static = best_mixed = float("inf")
    for round_number in range(1, args.rounds + 1):
        static_seconds, decoded = _decode_all(static)
        assert decoded == static_logs
        dynamic_seconds, decoded = _decode_all(dynamic)
        best_static = min(best_static, static_seconds)
        best_mixed = min(best_mixed, static_seconds + dynamic_seconds)
        print(
            f"round {round_number}: static {static_logs / static_seconds:,.0f} logs/s, "
            f"mixed {mixed_logs / (static_seconds + dynamic_seconds):,.0f} logs/s"
        )
    for event, table in static + dynamic:
        seconds = min(_time(decode_logs, table, event) for _ in range(2))
        print(f"  {event.signature:62s} {table.num_rows:>8} logs {table.num_rows / seconds:>12,.0f} logs/s")

    static_rate = static_logs / best_static
    mixed_rate = mixed_logs / best_mixed
    ratio = static_rate / baseline_rate
    passed = static_rate >= STATIC_TARGET and ratio >= RATIO_TARGET and mixed_rate >= MIXED_TARGET
    print(
        f"static {static_rate:,.0f} logs/s (target {STATIC_TARGET:,}), {ratio:.0f}x eth-abi (target "
        f"{RATIO_TARGET}x); mixed {mixed_rate:,.0f} logs/s (target {MIXED_TARGET:,})"
        + ("" if passed else "  TARGET MISSED")
    )
    print(
        json.dumps(
            {
                "bench": "decode",
                "decode_logs_per_s": round(static_rate),
                "decode_baseline_logs_per_s": round(baseline_rate),
                "ratio": round(ratio, 1),
                "mixed_logs_per_s": round(mixed_rate),
                "static_logs": static_logs,
                "mixed_logs": mixed_logs,
            }
        )
    )
    return 0 if passed else 1


def _time(function, *args) -> float:
    started = time.perf_counter()
    function(*args)
    return time.perf_counter() - started


if __name__ == "__main__":
    sys.exit(main())
