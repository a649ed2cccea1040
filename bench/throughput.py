"""End-to-end throughput: what users feel, through real processes.

1. **No-op tasks end to end** through a real ``manage.py qcluster`` (created → dispatched → run →
   published), with the ORM broker and with Redis (``CHAINLAKE_BENCH_REDIS_URL``, default
   ``redis://127.0.0.1:6379/0``; skipped with a note when nothing answers), against the bare claim
   loop of ``bench/orchestration.py`` (its ``bench_claim``, run here in the same process: our
   claim+complete and a bare ``SELECT … FOR UPDATE SKIP LOCKED`` loop). The tasks have no partitions:
   the operator has nothing to read or write, so the figure is the engine's own cost per task
   (dispatch, broker messages, django-q2's pusher, worker and monitor, claim, publish).
2. **Pending→running latency** of a single task on an idle cluster, p50 and p95 over many tasks
   created one at a time (``started_at - created_at`` in the ledger), per broker.
3. **Ingestion** against a JSON-RPC replay server on loopback (a separate process) serving
   pre-generated mainnet-shaped blocks (about 150 transactions and 400 logs a block, full
   transactions, ``eth_getLogs`` ranges), through the engine (one ``evm_rpc`` task: claim, the
   operator, Parquet, publish; ``bench/ingestion.py``'s ``ingest``) against a bare batched client on
   the same server (``bench/ingestion.py``'s ``bare_fetch``), and that bare client again with Python's
   cycle collector paused, as the engine reads (the figure to read the ratio against).

Runs on its own database (``chainlake_bench_throughput``, created afresh) on the platform's server.
The last line is one JSON object.

Usage: ``python -m bench.throughput [--tasks 3000] [--workers 4] [--latency-samples 40] [--blocks 600]
[--only tasks|ingestion]``
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib
import json
import logging
import multiprocessing
import os
import random
import signal
import socket
import sys
import tempfile
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

from bench.bench_database import use_bench_database
from testkit.workers import ManagedProcess

ROOT = Path(__file__).resolve().parents[1]


BENCH_DB = "chainlake_bench_throughput"
REDIS_URL = os.environ.get("CHAINLAKE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def bench_module(name: str):
    """Another benchmark's module, imported once Django is set up (its imports need the apps)."""
    return importlib.import_module(f"bench.{name}")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- a real qcluster ----------------------------------------------------------------------------
def qcluster(*, workers: int, env: dict, log_path: Path) -> ManagedProcess:
    """``manage.py qcluster`` on the bench database, in a process group of its own."""
    return ManagedProcess(
        ["qcluster"],
        env={**os.environ, "CHAINLAKE_WORKERS": str(workers), "LOG_LEVEL": "WARNING", **env},
        log_path=log_path,
        stop_timeout=30,
    )


def use_broker(name: str, queue: str) -> dict:
    """Point this process's django-q2 at the broker the cluster uses; returns the cluster's env."""
    from django_q.conf import Conf

    Conf.CLUSTER_NAME = Conf.PREFIX = queue
    env = {"CHAINLAKE_QUEUE_NAME": queue}
    if name == "redis":
        Conf.ORM, Conf.REDIS = None, REDIS_URL
        env["REDIS_URL"] = REDIS_URL
    else:
        Conf.ORM, Conf.REDIS = "default", None
    return env


def redis_answers() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def noop_job(org):
    from orchestration.services import job_create

    # Never called: its tasks have no partitions, so the operator has nothing to run on.
    return job_create(
        org=org,
        name=f"noop_{uuid.uuid4().hex[:6]}",
        runtime="python",
        operator="python",
        source={"callable": "chains.demo:transfers_from_logs"},
        input_datasets=["bench.noop_in"],
        output_datasets=[f"bench.noop_{uuid.uuid4().hex[:6]}"],
        activation="manual",
    )


def create_tasks(job, n: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO tasks (id, job_id, status, partitions, input_versions, attempts, outputs, created_at)
            SELECT uuidv7(), %s, 'pending', '{}', '{}', 0, '[]', clock_timestamp()
            FROM generate_series(1, %s)
            """,
            [job.id, n],
        )


def succeeded(job) -> int:
    from orchestration.models import Task

    return Task.objects.filter(job=job, status="succeeded").count()


def unfinished(job) -> bool:
    from orchestration.models import Task

    return Task.objects.filter(job=job, status__in=Task.LIVE_STATUSES).exists()


def wait_until(condition, timeout: float, what: str, every: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def end_to_end(org, n: int) -> float:
    """Tasks/s from creating ``n`` pending tasks to every one published."""
    from orchestration.services import tasks_dispatch

    job = noop_job(org)
    started = time.perf_counter()
    create_tasks(job, n)
    # The planner's dispatch; each worker's publish dispatches what is due as well.
    while tasks_dispatch():
        pass
    # Polled every 50 ms, by the job's unfinished tasks (an index range that shrinks as they finish)
    # rather than by counting the finished ones, which read ever more rows: the figure is the
    # engine's, not the cost of watching it.
    wait_until(lambda: not unfinished(job), timeout=900, what=f"{n} tasks to finish", every=0.05)
    elapsed = time.perf_counter() - started
    if succeeded(job) != n:
        raise SystemExit(f"only {succeeded(job)} of {n} tasks succeeded")
    return n / elapsed


def latency(org, samples: int) -> list[float]:
    """Pending→running of single tasks on an idle cluster, in milliseconds."""
    from orchestration.models import Task
    from orchestration.services import tasks_dispatch

    job = noop_job(org)
    found = []
    for i in range(samples):
        create_tasks(job, 1)
        tasks_dispatch()
        wait_until(lambda i=i: succeeded(job) == i + 1, timeout=60, what="a single task")
        time.sleep(0.2)  # idle again before the next one
    for created, started in Task.objects.filter(job=job).values_list("created_at", "started_at"):
        found.append((started - created).total_seconds() * 1000)
    return found


def bench_broker(name: str, org, args, log_dir: Path) -> dict:
    env = use_broker(name, f"chainlake-bench-{uuid.uuid4().hex[:8]}")
    cluster = qcluster(workers=args.workers, env=env, log_path=log_dir / f"qcluster-{name}.log")
    try:
        # Warm up: the cluster's processes started, connections opened, statements prepared.
        end_to_end(org, 200)
        rate = end_to_end(org, args.tasks)
        samples = latency(org, args.latency_samples)
    finally:
        cluster.stop()
        if name == "redis":
            import redis

            connection = redis.Redis.from_url(REDIS_URL)
            for key in connection.scan_iter(f"django_q:{env['CHAINLAKE_QUEUE_NAME']}:*"):
                connection.delete(key)  # the queue and the cluster's processing list
    return {"rate": rate, "p50": percentile(samples, 0.5), "p95": percentile(samples, 0.95)}


# -- a JSON-RPC replay server --------------------------------------------------------------------
TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def _hex32(*parts) -> str:
    return "0x" + hashlib.sha256(repr(parts).encode()).hexdigest()


def _address(rng: random.Random) -> str:
    return "0x" + rng.randbytes(20).hex()


def mainnet_shaped_chain(blocks: int, *, txs: int = 150, logs: int = 400, seed: int = 1):
    """Pre-serialized JSON of each block (full transactions) and of each block's logs."""
    rng = random.Random(seed)
    tokens = [_address(rng) for _ in range(200)]
    block_json, logs_json = [], []
    parent = "0x" + "00" * 32
    for number in range(blocks):
        block_hash = _hex32("block", number)
        transactions = []
        for index in range(txs):
            calldata = "0xa9059cbb" + rng.randbytes(rng.choice((64, 64, 64, 196, 420))).hex()
            transactions.append(
                {
                    "blockHash": block_hash,
                    "blockNumber": hex(number),
                    "chainId": "0x1",
                    "from": _address(rng),
                    "gas": hex(rng.randrange(21_000, 500_000)),
                    "gasPrice": hex(rng.randrange(10**9, 10**11)),
                    "maxFeePerGas": hex(rng.randrange(10**9, 10**11)),
                    "maxPriorityFeePerGas": hex(rng.randrange(10**8, 10**9)),
                    "hash": _hex32("tx", number, index),
                    "input": calldata,
                    "nonce": hex(rng.randrange(0, 100_000)),
                    "to": rng.choice(tokens),
                    "transactionIndex": hex(index),
                    "value": hex(rng.randrange(0, 10**18)),
                    "type": "0x2",
                    "accessList": [],
                    "v": "0x1",
                    "yParity": "0x1",
                    "r": _hex32("r", number, index),
                    "s": _hex32("s", number, index),
                }
            )
        block = {
            "number": hex(number),
            "hash": block_hash,
            "parentHash": parent,
            "timestamp": hex(1_700_000_000 + 12 * number),
            "miner": _address(rng),
            "gasLimit": hex(30_000_000),
            "gasUsed": hex(rng.randrange(10_000_000, 30_000_000)),
            "baseFeePerGas": hex(rng.randrange(10**9, 5 * 10**10)),
            "size": hex(rng.randrange(50_000, 200_000)),
            "stateRoot": _hex32("state", number),
            "transactionsRoot": _hex32("txroot", number),
            "receiptsRoot": _hex32("receipts", number),
            "logsBloom": "0x" + "00" * 256,
            "extraData": "0x6265617665726275696c642e6f7267",
            "difficulty": "0x0",
            "mixHash": _hex32("mix", number),
            "nonce": "0x0000000000000000",
            "sha3Uncles": _hex32("uncles", number),
            "uncles": [],
            "withdrawals": [],
            "transactions": transactions,
        }
        block_logs = []
        for log_index in range(logs):
            tx_index = min(txs - 1, log_index * txs // logs)
            block_logs.append(
                {
                    "address": rng.choice(tokens),
                    "topics": [
                        TRANSFER,
                        "0x" + "00" * 12 + _address(rng)[2:],
                        "0x" + "00" * 12 + _address(rng)[2:],
                    ],
                    "data": "0x" + rng.randbytes(32).hex(),
                    "blockNumber": hex(number),
                    "blockHash": block_hash,
                    "transactionHash": transactions[tx_index]["hash"],
                    "transactionIndex": hex(tx_index),
                    "logIndex": hex(log_index),
                    "removed": False,
                }
            )
        block_json.append(json.dumps(block, separators=(",", ":")))
        logs_json.append(json.dumps(block_logs, separators=(",", ":"))[1:-1])
        parent = block_hash
    return block_json, logs_json


def serve_replay(port: int, blocks: int, ready) -> None:
    """The replay node: answers from the pre-serialized chain, as fast as Python can."""
    block_json, logs_json = mainnet_shaped_chain(blocks)
    head = hex(blocks - 1)

    def result(call: dict) -> str:
        method, params = call["method"], call.get("params") or []
        if method == "eth_chainId":
            return '"0x1"'
        if method == "eth_blockNumber":
            return f'"{head}"'
        if method == "eth_getBlockByNumber":
            number = int(params[0], 16)
            return block_json[number] if number < blocks else "null"
        if method == "eth_getLogs":
            start, end = int(params[0]["fromBlock"], 16), min(int(params[0]["toBlock"], 16), blocks - 1)
            return "[" + ",".join(part for part in logs_json[start : end + 1] if part) + "]"
        raise ValueError(method)

    def answer(call: dict) -> str:
        return f'{{"jsonrpc":"2.0","id":{json.dumps(call.get("id"))},"result":{result(call)}}}'

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if isinstance(request, list):
                body = "[" + ",".join(answer(call) for call in request) + "]"
            else:
                body = answer(request)
            payload = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    ready.set()
    server.serve_forever()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_replay(args) -> dict:
    from django.conf import settings

    ingestion = bench_module("ingestion")
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]  # the replay node is on loopback
    port = free_port()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    server = ctx.Process(target=serve_replay, args=(port, args.blocks, ready), daemon=True)
    started = time.perf_counter()
    server.start()
    if not ready.wait(timeout=600):
        raise SystemExit("the replay server did not start")
    print(
        f"replay server: {args.blocks} mainnet-shaped blocks generated "
        f"in {time.perf_counter() - started:.1f}s"
    )
    node = SimpleNamespace(url=f"http://127.0.0.1:{port}", chain_id=1)
    last = args.blocks - 1
    job = ingestion.evm_rpc_job(node, last, args.batch_size)
    best = {"ours": float("inf"), "bare": float("inf"), "bare-nogc": float("inf")}
    counts = {}
    try:
        for round_number in range(1, args.rounds + 1):
            for name, run in (
                ("bare", lambda: ingestion.bare_fetch(node.url, last, args.batch_size)),
                ("ours", lambda: ingestion.ingest(job)),
                # For reading the ratio: the engine pauses Python's cycle collector while it reads
                # (the answers have no cycles); this is what the bare client gains from the same.
                (
                    "bare-nogc",
                    lambda: without_cycle_collector(ingestion.bare_fetch, node.url, last, args.batch_size),
                ),
            ):
                begun = time.perf_counter()
                counts[name] = run()
                elapsed = time.perf_counter() - begun
                best[name] = min(best[name], elapsed)
                print(
                    f"replay round {round_number} {name:4s}: {elapsed:.2f}s  (blocks, logs) = {counts[name]}"
                )
    finally:
        server.terminate()
    if counts["bare"] != counts["ours"]:
        raise SystemExit(f"mismatch: bare read {counts['bare']}, the engine published {counts['ours']}")
    blocks = counts["ours"][0]
    return {name: blocks / seconds for name, seconds in best.items()}


def without_cycle_collector(run, *args):
    gc.disable()
    try:
        return run(*args)
    finally:
        gc.enable()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--workers", type=int, default=4, help="django-q2 workers of the cluster")
    parser.add_argument("--latency-samples", type=int, default=40)
    parser.add_argument("--claim-workers", type=int, default=4)
    parser.add_argument("--blocks", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--only", choices=("tasks", "ingestion"), help="run one part (its figures only; the others null)"
    )
    args = parser.parse_args()
    # Stopped from outside: unwind, so the cluster and the replay server are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    os.environ["DEBUG"] = "0"
    os.environ["LOG_LEVEL"] = "WARNING"  # the figures, not one line per task
    use_bench_database(BENCH_DB, fresh=True)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from orgs.models import Org

    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("django-q").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0)
    lake_dir = tempfile.mkdtemp(prefix="chainlake-bench-throughput-")
    settings.STORAGE_URL = Path(lake_dir).as_uri()
    os.environ["STORAGE_URL"] = settings.STORAGE_URL
    org = Org.objects.create(slug="bench", name="Bench")

    if args.only == "ingestion":
        report_replay(bench_replay(args), {"orm": None, "redis": None}, None)
        return
    claim_ours, claim_bare, _ = bench_module("orchestration").bench_claim(args.tasks, args.claim_workers, org)
    print(
        f"bare claim loop (bench/orchestration.py), {args.claim_workers} processes: "
        f"{claim_bare:,.0f} tasks/s; "
        f"our claim+complete without a broker: {claim_ours:,.0f} tasks/s"
    )

    figures = {}
    for broker in ("orm", "redis"):
        if broker == "redis" and not redis_answers():
            print(f"redis: nothing answers at {REDIS_URL}; skipped (set CHAINLAKE_BENCH_REDIS_URL)")
            figures[broker] = None
            continue
        figures[broker] = result = bench_broker(broker, org, args, Path(lake_dir))
        print(
            f"end to end, {broker} broker, one qcluster with {args.workers} workers: "
            f"{result['rate']:,.0f} tasks/s "
            f"(ratio to the bare claim loop {result['rate'] / claim_bare:.2f}); "
            f"pending->running on an idle cluster p50 {result['p50']:.0f} ms, p95 {result['p95']:.0f} ms"
        )

    report_replay(None if args.only == "tasks" else bench_replay(args), figures, claim_bare)


def report_replay(replay: dict | None, figures: dict, claim_bare: float | None) -> None:
    """Print the ingestion figures (when run) and the last line, the JSON of every figure."""
    if replay is not None:
        print(
            f"ingestion from the replay node: {replay['ours']:,.0f} blocks/s through the engine; "
            f"bare batched client {replay['bare']:,.0f} blocks/s; "
            f"ratio bare/ours {replay['bare'] / replay['ours']:.2f}; "
            f"bare with the cycle collector paused, as the engine reads, {replay['bare-nogc']:,.0f} blocks/s "
            f"(ratio {replay['bare-nogc'] / replay['ours']:.2f})"
        )
    redis_figures = figures.get("redis") or {}
    orm_figures = figures.get("orm") or {}
    latency_source = redis_figures or orm_figures

    def rounded(source: dict, key: str, digits: int | None = None):
        return round(source[key], digits) if key in source else None

    print(
        json.dumps(
            {
                "bench": "throughput",
                "e2e_redis_tasks_per_s": rounded(redis_figures, "rate"),
                "e2e_orm_tasks_per_s": rounded(orm_figures, "rate"),
                "latency_p50_ms": rounded(latency_source, "p50", 1),
                "latency_p95_ms": rounded(latency_source, "p95", 1),
                "latency_orm_p50_ms": rounded(orm_figures, "p50", 1),
                "latency_orm_p95_ms": rounded(orm_figures, "p95", 1),
                "bare_claim_loop_tasks_per_s": None if claim_bare is None else round(claim_bare),
                "replay_blocks_per_s": None if replay is None else round(replay["ours"], 1),
                "replay_bare_blocks_per_s": None if replay is None else round(replay["bare"], 1),
                "replay_bare_nogc_blocks_per_s": None if replay is None else round(replay["bare-nogc"], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
