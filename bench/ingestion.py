"""Ingestion throughput: blocks/s and logs/s from a local node, against a bare batched JSON-RPC fetch.

A local eth-tester chain is served over HTTP on 127.0.0.1 (orchestration.evm.testchain) and filled
with blocks carrying ERC-20 transfers. Then, in the same run and alternating rounds:

- ingestion: `orchestration.evm.ingest.ingest_range` over the whole range — web3's HTTP provider,
  batches, retries armed, consistency checks, conversion to Arrow tables and the split into
  block-range partitions. (This is the step the `evm_rpc` operator will call; once the operator
  exists this benchmark should go through it.)
- baseline: the same JSON-RPC work with nothing on top — plain httpx POSTs of the same batches
  (`eth_getBlockByNumber` with full transactions, `eth_getLogs` over the same sub-ranges) and
  `json.loads`.

The best round of each is kept (the least disturbed by other processes on the machine). The ratio
baseline_rate / ingestion_rate is our overhead; it must stay under 1.5, i.e. the node, not our code,
is the bottleneck. The script exits 1 if it does not. The last line is one JSON object.

Usage: .venv/bin/python bench/ingestion.py [--blocks 300] [--rounds 3] [--batch-size 50]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestration.evm.client import EvmRpcClient
from orchestration.evm.ingest import ingest_range
from orchestration.evm.testchain import LocalTestChain

MAX_RATIO = 1.5


def bare_fetch(url: str, last_block: int, batch_size: int) -> tuple[int, int]:
    """Blocks and logs of 0..last_block by plain JSON-RPC batches; returns (blocks, logs) read."""
    blocks = logs = 0
    with httpx.Client(timeout=60) as http:
        for start in range(0, last_block + 1, batch_size):
            end = min(start + batch_size - 1, last_block)
            batch = [
                {"jsonrpc": "2.0", "id": i, "method": "eth_getBlockByNumber", "params": [hex(n), True]}
                for i, n in enumerate(range(start, end + 1))
            ]
            answer = json.loads(http.post(url, content=json.dumps(batch)).content)
            blocks += sum(1 for item in answer if item.get("result"))
        # The same eth_getLogs sub-ranges the client asks for, in batches of the same size.
        log_calls = [
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "eth_getLogs",
                "params": [
                    {"fromBlock": hex(start), "toBlock": hex(min(start + batch_size - 1, last_block))}
                ],
            }
            for i, start in enumerate(range(0, last_block + 1, batch_size))
        ]
        for offset in range(0, len(log_calls), batch_size):
            answer = json.loads(
                http.post(url, content=json.dumps(log_calls[offset : offset + batch_size])).content
            )
            logs += sum(len(item["result"]) for item in answer)
    return blocks, logs


def ingest(chain: LocalTestChain, last_block: int, batch_size: int) -> tuple[int, int]:
    client = EvmRpcClient(
        chain.url, chain_id=chain.chain_id, batch_size=batch_size, log_block_range=batch_size
    )
    result = ingest_range(client, start=0, end=last_block, stored_hashes={}, partition_width=1000)
    return result.block_count, result.log_count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=50)
    args = parser.parse_args()

    with LocalTestChain(seed=42) as chain:
        started = time.perf_counter()
        chain.deploy_token()
        chain.mine_random_blocks(args.blocks - chain.head - 1, max_transfers_per_block=5)
        last_block = chain.head
        print(f"chain: {last_block + 1} blocks mined in {time.perf_counter() - started:.1f}s at {chain.url}")

        best = {"ingestion": float("inf"), "bare": float("inf")}
        counts = {}
        for round_number in range(1, args.rounds + 1):
            for name, run in (
                ("bare", lambda: bare_fetch(chain.url, last_block, args.batch_size)),
                ("ingestion", lambda: ingest(chain, last_block, args.batch_size)),
            ):
                started = time.perf_counter()
                counts[name] = run()
                elapsed = time.perf_counter() - started
                best[name] = min(best[name], elapsed)
                print(f"round {round_number} {name:9s}: {elapsed:.3f}s  blocks, logs = {counts[name]}")

    if counts["bare"] != counts["ingestion"]:
        print(f"mismatch: bare read {counts['bare']}, ingestion {counts['ingestion']}")
        return 1
    blocks, logs = counts["ingestion"]
    blocks_per_s = blocks / best["ingestion"]
    logs_per_s = logs / best["ingestion"]
    bare_blocks_per_s = blocks / best["bare"]
    ratio = bare_blocks_per_s / blocks_per_s
    print(
        f"ingestion {blocks_per_s:.0f} blocks/s, {logs_per_s:.0f} logs/s; "
        f"bare JSON-RPC {bare_blocks_per_s:.0f} blocks/s; "
        f"ratio bare/ingestion {ratio:.2f} (must stay under {MAX_RATIO})"
    )
    print(
        json.dumps(
            {
                "bench": "ingestion",
                "blocks_per_s": round(blocks_per_s, 1),
                "logs_per_s": round(logs_per_s, 1),
                "bare_rpc_blocks_per_s": round(bare_blocks_per_s, 1),
                "ratio": round(ratio, 3),
                "blocks": blocks,
                "logs": logs,
            }
        )
    )
    return 0 if ratio < MAX_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
