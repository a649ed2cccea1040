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
is the bottleneck.

Two chains at once (``--mode two-chains``, also part of the default ``both``): two local chains,
each its own node process (as two real nodes would be), feed two `evm_rpc` jobs writing
``evm.*`` and ``base.*``, each task run by a worker process of its own, as the engine's workers run
them. One chain ingested alone is timed against both ingested at the same time; ``two_chain_ratio``
= (blocks/s of both together) / (blocks/s of one alone), 2.0 at best; the target is at least 1.6.
The figure is bounded by the cores left to the second chain: the nodes' and workers' CPU time is
measured (``one_chain_cores_busy``), and so is everything else busy on the machine meanwhile
(``others_cores_busy``: the database, other programs); ``two_chain_ratio_ceiling`` = (cores -
others) / one chain's cores, between 1 and 2.

The script exits 1 when a figure misses its target. The last line is one JSON object.

Usage: .venv/bin/python -m bench.ingestion [--blocks 300] [--rounds 3] [--batch-size 50]
       [--mode single|two-chains|both]
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import sys
import tempfile
import time
from contextlib import ExitStack, suppress
from pathlib import Path

import httpx
import psutil

from bench.bench_database import use_bench_database
from testkit.testchain import LocalTestChain

MAX_RATIO = 1.5
MIN_TWO_CHAIN_RATIO = 1.6
BENCH_DB = "chainlake_bench_ingestion"


def prepare_django(lake_dir: str, *, fresh: bool = True) -> None:
    """A fresh, migrated bench database and a temporary lake, then django.setup(); ``fresh=False``
    (a worker process): the parent's database as it is."""
    os.environ["DEBUG"] = "0"
    use_bench_database(BENCH_DB, fresh=fresh)
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request would drown the figures
    logging.getLogger("chainlake.tasks").setLevel(logging.WARNING)
    settings.STORAGE_URL = Path(lake_dir).as_uri()
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]  # the local test chain
    if fresh:
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


def evm_rpc_job(chain: LocalTestChain, last_block: int, batch_size: int, *, namespace: str = "evm"):
    return chain_job(chain.url, chain.chain_id, last_block, batch_size, namespace=namespace)


def chain_job(url: str, chain_id: int, last_block: int, batch_size: int, *, namespace: str):
    from orchestration.services import job_create
    from orgs.models import platform_org

    return job_create(
        org=platform_org(),
        name=f"bench_{namespace}_rpc",
        operator="evm_rpc",
        runtime="source",
        execution_strategy="incremental",
        output_datasets=[f"{namespace}.blocks", f"{namespace}.transactions", f"{namespace}.logs"],
        source={
            "url": url,
            "chain_id": chain_id,
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


# -- two chains at once ---------------------------------------------------------------------------


def serve_chain(seed: int, blocks: int, conn) -> None:
    """A node process: a local chain of ``blocks`` blocks, served until the parent says stop."""
    with LocalTestChain(seed=seed) as chain:
        chain.deploy_token()
        chain.mine_random_blocks(blocks - chain.head - 1, max_transfers_per_block=5)
        conn.send((chain.url, chain.chain_id, chain.head))
        conn.recv()  # stop


def run_tasks_worker(lake_dir: str, conn) -> None:
    """A worker process, as the engine runs tasks: Django set up once, then each task id it is sent
    run with ``task_execute``, answering (outcome, seconds)."""
    prepare_django(lake_dir, fresh=False)
    from orchestration.services import task_execute

    conn.send("ready")
    while (task_id := conn.recv()) is not None:
        started = time.perf_counter()
        outcome = task_execute(task_id=task_id)
        conn.send((outcome, time.perf_counter() - started))


class Spawned:
    """A spawned process and its end of a pipe; always ended when the bench ends."""

    def __init__(self, target, *args) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=target, args=(*args, child), daemon=True)
        self.process.start()

    def close(self, stop_message) -> None:
        if self.process.is_alive():
            with suppress(BrokenPipeError, OSError):
                self.conn.send(stop_message)
            self.process.join(timeout=15)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)


def reset_catalog() -> None:
    from orchestration.models import Task
    from versioning.models import DatasetCursor, PartitionVersion

    PartitionVersion.objects.all().delete()
    DatasetCursor.objects.all().delete()
    Task.objects.all().delete()


def queued_task(job) -> str:
    from orchestration.models import Task
    from orchestration.services import job_plan, tasks_dispatch

    job_plan(job=job, force=True)
    tasks_dispatch(enqueue=False)
    return str(Task.objects.get(job=job, status="queued").id)


def published_blocks(namespace: str) -> int:
    from versioning.models import PartitionVersion

    return sum(
        PartitionVersion.objects.filter(dataset=f"{namespace}.blocks").values_list("row_count", flat=True)
    )


def _cpu_seconds(processes: list[Spawned]) -> float:
    """CPU seconds (user + system) the processes have used so far."""
    return sum(sum(psutil.Process(p.process.pid).cpu_times()[:2]) for p in processes)


def _machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy, every process on it."""
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def run_in_workers(rounds: list[tuple]) -> tuple[float, float, float]:
    """Hand one task of each (job, worker, node) to its worker at the same moment; seconds until all
    are done, how many cores those nodes and workers kept busy meanwhile, and how many everything
    else on the machine did (the database, this process, other programs)."""
    reset_catalog()
    tasks = [(queued_task(job), worker) for job, worker, _ in rounds]
    ours = [process for _, worker, node in rounds for process in (worker, node)]
    cpu, machine = _cpu_seconds(ours), _machine_busy_seconds()
    started = time.perf_counter()
    for task_id, worker in tasks:
        worker.conn.send(task_id)
    for _, worker in tasks:
        outcome, _ = worker.conn.recv()
        if outcome != "succeeded":
            raise SystemExit(f"an evm_rpc task did not succeed: {outcome}")
    elapsed = time.perf_counter() - started
    used = _cpu_seconds(ours) - cpu
    return elapsed, used / elapsed, (_machine_busy_seconds() - machine - used) / elapsed


def two_chain_figures(lake_dir: str, args) -> dict:
    """Blocks/s of one chain alone and of two chains at once, each chain and task in its own process."""
    with ExitStack() as stack:
        nodes = [Spawned(serve_chain, seed, args.blocks) for seed in (42, 43)]
        for node in nodes:
            stack.callback(node.close, "stop")
        workers = [Spawned(run_tasks_worker, lake_dir) for _ in nodes]
        for worker in workers:
            stack.callback(worker.close, None)
        started = time.perf_counter()
        served = [node.conn.recv() for node in nodes]
        assert all(worker.conn.recv() == "ready" for worker in workers)
        print(f"two chains: {served[0][2] + 1} blocks each, ready in {time.perf_counter() - started:.1f}s")
        from orchestration.models import Job

        reset_catalog()
        Job.objects.filter(name__startswith="bench_").delete()  # the single-chain rounds' job
        jobs = [
            chain_job(url, chain_id, head, args.batch_size, namespace=namespace)
            for (url, chain_id, head), namespace in zip(served, ("evm", "base"), strict=True)
        ]
        best = {"alone": float("inf"), "together": float("inf")}
        cores_busy, others_busy = {}, {}
        for round_number in range(1, args.rounds + 1):
            for name, pairs in (
                ("alone", [(jobs[0], workers[0], nodes[0])]),
                ("together", list(zip(jobs, workers, nodes, strict=True))),
            ):
                elapsed, busy, others = run_in_workers(pairs)
                if elapsed < best[name]:
                    best[name], cores_busy[name], others_busy[name] = elapsed, busy, others
                blocks = {ns: published_blocks(ns) for ns in ("evm", "base")}
                print(
                    f"round {round_number} {name:9s}: {elapsed:.3f}s, {busy:.2f} cores ours, "
                    f"{others:.2f} others, blocks {blocks}"
                )
        blocks = {ns: published_blocks(ns) for ns in ("evm", "base")}
    alone_rate = blocks["evm"] / best["alone"]
    together_rate = (blocks["evm"] + blocks["base"]) / best["together"]
    ratio = together_rate / alone_rate
    # One chain alone keeps this many cores busy (its node and its worker): two chains at once go
    # at most as much faster as the cores left to them (by the database and other programs) allow.
    free = (os.cpu_count() or 1) - others_busy["together"]
    ceiling = max(1.0, min(2.0, free / cores_busy["alone"]))
    print(
        f"one chain alone {alone_rate:.0f} blocks/s keeping {cores_busy['alone']:.2f} cores busy; two "
        f"chains at once {together_rate:.0f} blocks/s together keeping {cores_busy['together']:.2f} busy; "
        f"two_chain_ratio {ratio:.2f} (target at least {MIN_TWO_CHAIN_RATIO}; at most {ceiling:.2f} "
        f"on {os.cpu_count()} cores); everything else on the machine kept {others_busy['together']:.2f} "
        "cores busy meanwhile"
    )
    return {
        "one_chain_blocks_per_s": round(alone_rate, 1),
        "two_chains_blocks_per_s": round(together_rate, 1),
        "two_chain_ratio": round(ratio, 3),
        "one_chain_cores_busy": round(cores_busy["alone"], 2),
        "two_chains_cores_busy": round(cores_busy["together"], 2),
        "two_chain_ratio_ceiling": round(ceiling, 3),
        "others_cores_busy": round(others_busy["together"], 2),
        "cores": os.cpu_count(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--mode", choices=("single", "two-chains", "both"), default="both")
    args = parser.parse_args()

    lake_dir = tempfile.mkdtemp(prefix="chainlake-bench-lake-")
    prepare_django(lake_dir)
    if args.mode == "two-chains":
        figures = two_chain_figures(lake_dir, args)
        print(json.dumps({"bench": "ingestion", **figures}))
        return 0 if figures["two_chain_ratio"] >= MIN_TWO_CHAIN_RATIO else 1
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
    figures = {}
    if args.mode == "both":
        figures = two_chain_figures(lake_dir, args)
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
                **figures,
            }
        )
    )
    two_chains_ok = not figures or figures["two_chain_ratio"] >= MIN_TWO_CHAIN_RATIO
    return 0 if ratio < MAX_RATIO and two_chains_ok else 1


if __name__ == "__main__":
    sys.exit(main())
