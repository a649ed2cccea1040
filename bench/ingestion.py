"""Ingestion throughput: blocks/s and logs/s from a local node, against a bare batched JSON-RPC fetch.

A local eth-tester chain is served over HTTP on 127.0.0.1 (testkit.testchain) and filled
with blocks carrying ERC-20 transfers. Then, in the same run and alternating rounds:

- ingestion: one task of an `evm_rpc` job through the engine's execution path (plan, claim with a
  fenced lease and heartbeat, the operator: pooled HTTP, batches, retries armed,
  consistency checks, conversion to Arrow, block-range partitions merged and written as Parquet to
  the lake, then the publish transaction with the cursor), from an empty catalog each round.
- baseline: the same JSON-RPC work with nothing on top — plain httpx POSTs of the same batches
  (`eth_getBlockByNumber` with full transactions, `eth_getBlockReceipts` of the blocks with
  transactions, `eth_getLogs` over the same sub-ranges) and `json.loads`.

The engine runs on a bench database created afresh in the embedded PostgreSQL (or the server of
DATABASE_URL) and a temporary lake folder.

The best round of each is kept (the least disturbed by other processes on the machine). The ratio
baseline_rate / ingestion_rate is our overhead; it must stay under 1.5, i.e. the node, not our code,
is the bottleneck. The script exits 1 if it does not. The last line is one JSON object.

Usage: .venv/bin/python -m bench.ingestion [--blocks 300] [--rounds 3] [--batch-size 50]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.bench_database import use_bench_database
from testkit.testchain import LocalTestChain

MAX_RATIO = 1.5
BENCH_DB = "chainlake_bench_ingestion"


def prepare_django(lake_dir: str) -> None:
    """A fresh, migrated bench database and a temporary lake, then django.setup()."""
    os.environ["DEBUG"] = "0"
    use_bench_database(BENCH_DB, fresh=True)
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would drown the figures
    settings.STORAGE_URL = Path(lake_dir).as_uri()
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]  # the local test chain
    call_command("migrate", verbosity=0)


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
            receipt_calls = [
                {
                    "jsonrpc": "2.0",
                    "id": i,
                    "method": "eth_getBlockReceipts",
                    "params": [item["result"]["number"]],
                }
                for i, item in enumerate(answer)
                if item["result"]["transactions"]
            ]
            if receipt_calls:
                json.loads(http.post(url, content=json.dumps(receipt_calls)).content)
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


def evm_rpc_job(chain: LocalTestChain, last_block: int, batch_size: int):
    from orchestration.services import job_create
    from orgs.models import platform_org

    return job_create(
        org=platform_org(),
        name="bench_evm_rpc",
        operator="evm_rpc",
        runtime="source",
        execution_strategy="incremental",
        output_datasets=["evm.blocks", "evm.transactions", "evm.logs"],
        source={
            "url": chain.url,
            "chain_id": chain.chain_id,
            "end_block": last_block,
            "batch_size": batch_size,
            "log_block_range": batch_size,
        },
    )


def ingest(job) -> tuple[int, int]:
    """One evm_rpc task from an empty catalog through the engine; (blocks, logs) it published."""
    from orchestration.models import Task
    from orchestration.services import job_plan, task_execute, tasks_dispatch
    from versioning.models import DatasetCursor, PartitionVersion

    PartitionVersion.objects.all().delete()
    DatasetCursor.objects.all().delete()
    Task.objects.all().delete()
    job_plan(job=job, force=True)
    tasks_dispatch(enqueue=False)  # queued, then run inline here: no qcluster in the measurement
    task = Task.objects.get(job=job)
    outcome = task_execute(task_id=task.id)
    if outcome != "succeeded":
        raise SystemExit(
            f"the evm_rpc task did not succeed: {outcome}: {Task.objects.get(pk=task.id).error_message}"
        )
    rows = dict(
        PartitionVersion.objects.filter(dataset__in=["evm.blocks", "evm.logs"]).values_list(
            "dataset", "row_count"
        )
    )
    return rows.get("evm.blocks", 0), rows.get("evm.logs", 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=50)
    args = parser.parse_args()

    lake_dir = tempfile.mkdtemp(prefix="chainlake-bench-lake-")
    prepare_django(lake_dir)
    with LocalTestChain(seed=42) as chain:
        started = time.perf_counter()
        chain.deploy_token()
        chain.mine_random_blocks(args.blocks - chain.head - 1, max_transfers_per_block=5)
        last_block = chain.head
        print(f"chain: {last_block + 1} blocks mined in {time.perf_counter() - started:.1f}s at {chain.url}")
        job = evm_rpc_job(chain, last_block, args.batch_size)

        best = {"ingestion": float("inf"), "bare": float("inf")}
        counts = {}
        for round_number in range(1, args.rounds + 1):
            for name, run in (
                ("bare", lambda: bare_fetch(chain.url, last_block, args.batch_size)),
                ("ingestion", lambda: ingest(job)),
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
