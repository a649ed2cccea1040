"""Alerting throughput: evaluation of many definitions in one scan, and deliveries per worker.

1. Evaluation. A transfers-like dataset of ``--rows`` rows (default 10,000,000) in Parquet
   partitions of 1,000,000 rows in a temporary lake; ``--definitions`` (default 100) conditions,
   each a uint256 threshold on ``value`` and an address test. Measured: the evaluator's path
   (``scan_partitions``: one DuckDB scan per partition flags every definition at once) against the
   baseline of one query per definition over the same partitions, same process, same compiled SQL.
   Target: one scan >= 5x the baseline (rows/s = rows of the dataset / wall time for all definitions).
2. Deliveries. ``--deliveries`` (default 3,000) pending webhook deliveries in a bench database, sent
   by one worker (``deliveries_process``: lease with SKIP LOCKED, sign, POST, fenced record) to a
   receiver process on 127.0.0.1; against the baseline of the same signed POSTs with no database
   around them. Target: >= 500 deliveries/s per worker.

The last line is one JSON object. Usage: .venv/bin/python -m bench.alerting [--rows N]
[--definitions N] [--deliveries N] [--rounds N] [--part all|eval|deliveries]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa

from bench.bench_database import use_bench_database

BENCH_DB = "chainlake_bench_alerting"
PARTITION_ROWS = 1_000_000
EVAL_TARGET = 5.0
DELIVERY_TARGET = 500.0

# A minimal keep-alive HTTP/1.1 receiver on asyncio: it answers 200 to every POST, so the figures
# measure the sender rather than a thread-per-connection server.
RECEIVER = r"""
import asyncio

async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()

async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


def make_partition(first_block: int, rows: int, rng: random.Random) -> pa.Table:
    """Four transfers per block; wei amounts spread over 1e15 .. 1e24 as exact decimal strings
    (uint256 as the lake stores it)."""
    addresses = [f"0x{i:040x}" for i in range(1000)]
    numbers = range(rows)
    return pa.table(
        {
            "chain_id": pa.array([1] * rows, pa.int64()),
            "block_number": pa.array([first_block + n // 4 for n in numbers], pa.int64()),
            "block_hash": pa.array([f"0xb{first_block + n // 4}" for n in numbers]),
            "transaction_hash": pa.array([f"0xt{first_block}-{n}" for n in numbers]),
            "log_index": pa.array([n % 4 for n in numbers], pa.int32()),
            "from_address": pa.array([addresses[rng.randrange(1000)] for _ in numbers]),
            "to_address": pa.array([addresses[rng.randrange(1000)] for _ in numbers]),
            "value": pa.array([f"{rng.randrange(1, 10)}{'0' * rng.randrange(15, 25)}" for _ in numbers]),
        }
    )


def definitions(count: int):
    from alerting.models import AlertDefinition

    made = []
    for index in range(count):
        threshold = "1" + "0" * (22 + index % 3)  # >= 1e22 .. 1e24 wei
        made.append(
            AlertDefinition(
                name=f"bench {index}",
                condition={
                    "dataset": "bench.transfers",
                    "where": {
                        "all": [
                            {"column": "value", "op": "gte", "value": threshold},
                            {"column": "to_address", "op": "eq", "value": f"0x{index * 7 % 1000:040x}"},
                        ]
                    },
                },
            )
        )
    return made


def bench_evaluation(args, lake_dir: str) -> dict:
    from alerting.services.evaluation import Compiled, compile_condition, scan_partitions
    from versioning.models import PartitionVersion
    from versioning.storage import Storage

    storage = Storage(Path(lake_dir).as_uri())
    rng = random.Random(7)
    partitions = []
    remaining, first = args.rows, 0
    print(f"writing {args.rows:,} rows ...", flush=True)
    while remaining > 0:
        rows = min(PARTITION_ROWS, remaining)
        key = f"blocks_{first:08d}"
        written = storage.write_table(f"bench/transfers/{key}.parquet", make_partition(first, rows, rng))
        partitions.append(
            PartitionVersion(dataset="bench.transfers", partition_key=key, location=written.location)
        )
        remaining -= rows
        first += rows // 4
    schema = dict(zip(written.schema.names, written.schema.types, strict=True))
    compiled = [Compiled(d, compile_condition(d.condition, schema)) for d in definitions(args.definitions)]

    def one_scan() -> int:
        return len(
            scan_partitions(
                compiled=compiled, partitions=partitions, head=None, storage=storage, respect_creation=False
            ).matches
        )

    def per_definition() -> int:
        return sum(
            len(
                scan_partitions(
                    compiled=[c], partitions=partitions, head=None, storage=storage, respect_creation=False
                ).matches
            )
            for c in compiled
        )

    best_scan = best_base = float("inf")
    for round_number in range(args.rounds):
        start = time.perf_counter()
        matched = one_scan()
        best_scan = min(best_scan, time.perf_counter() - start)
        start = time.perf_counter()
        matched_base = per_definition()
        best_base = min(best_base, time.perf_counter() - start)
        assert matched == matched_base, (matched, matched_base)
        print(
            f"round {round_number + 1}: one scan {best_scan:.2f}s, "
            f"per definition {best_base:.2f}s, {matched} matches"
        )
    scan_rate, base_rate = args.rows / best_scan, args.rows / best_base
    print(
        f"evaluation, {args.definitions} definitions over {args.rows:,} rows: "
        f"one scan {scan_rate:,.0f} rows/s, "
        f"one query per definition (baseline) {base_rate:,.0f} rows/s, ratio {scan_rate / base_rate:.1f}x "
        f"(target >= {EVAL_TARGET:g}x)"
    )
    return {"eval_rows_per_s": round(scan_rate), "eval_baseline_rows_per_s": round(base_rate)}


def seed_deliveries(count: int, url: str):
    from alerting.models import AlertDefinition, AlertDelivery, AlertEvent
    from orgs.models import Org, User
    from platform_site.db import uuid7

    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    org, _ = Org.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    user, _ = User.objects.get_or_create(external_id="bench", defaults={"org": org})
    definition = AlertDefinition.objects.create(
        org=org,
        user=user,
        name="bench",
        condition={"dataset": "bench.transfers", "where": {"column": "value", "op": "gte", "value": 1}},
        channels=[{"type": "webhook", "url": url + "/hook", "secret": secret}],
    )
    events = [
        AlertEvent(
            id=uuid7(),
            org=org,
            alert_definition=definition,
            dedupe_key=f"bench-{i}-{time.time_ns()}",
            block_number=i,
            payload={"kind": "event", "row": {"value": str(10**24 + i)}},
        )
        for i in range(count)
    ]
    AlertEvent.objects.bulk_create(events, batch_size=2000)
    AlertDelivery.objects.bulk_create(
        [
            AlertDelivery(id=uuid7(), org=org, alert_event=e, channel="webhook", next_attempt_at=None)
            for e in events
        ],
        batch_size=2000,
    )
    from django.utils import timezone

    AlertDelivery.objects.filter(alert_event__alert_definition=definition).update(
        next_attempt_at=timezone.now()
    )
    return definition, events


def bench_deliveries(args) -> dict:
    from django.conf import settings

    from alerting.channels import send_webhook
    from alerting.models import AlertDelivery
    from alerting.services.deliveries import deliveries_process, new_lease_owner
    from alerting.services.documents import event_document

    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    try:
        port = int(receiver.stdout.readline())
        url = f"http://127.0.0.1:{port}"
        settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]
        best_worker = best_base = 0.0
        for round_number in range(args.rounds):
            definition, events = seed_deliveries(args.deliveries, url)
            owner = new_lease_owner()
            start = time.perf_counter()
            delivered = 0
            while True:
                counts = deliveries_process(owner=owner, limit=200, threads=16)
                delivered += counts["delivered"]
                if not counts["leased"]:
                    break
            worker_rate = delivered / (time.perf_counter() - start)
            assert delivered == args.deliveries, delivered
            assert (
                not AlertDelivery.objects.filter(alert_event__alert_definition=definition)
                .exclude(status="delivered")
                .exists()
            )
            channel = definition.channels[0]
            documents = [(str(e.pk), event_document(e)) for e in events]
            start = time.perf_counter()
            with ThreadPoolExecutor(16) as pool:
                results = list(
                    pool.map(lambda d, c=channel: send_webhook(c, message_id=d[0], document=d[1]), documents)
                )
            base_rate = len(documents) / (time.perf_counter() - start)
            assert all(r.ok for r in results)
            best_worker, best_base = max(best_worker, worker_rate), max(best_base, base_rate)
            print(
                f"round {round_number + 1}: worker {worker_rate:,.0f}/s, bare signed POSTs {base_rate:,.0f}/s"
            )
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
    print(
        f"deliveries, one worker (16 sends in flight): {best_worker:,.0f}/s; "
        f"bare signed POSTs with no database (baseline) {best_base:,.0f}/s, "
        f"ratio {best_worker / best_base:.2f} (target >= {DELIVERY_TARGET:g}/s)"
    )
    return {"deliveries_per_s": round(best_worker), "deliveries_baseline_per_s": round(best_base)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--definitions", type=int, default=100)
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--part", choices=["all", "eval", "deliveries"], default="all")
    args = parser.parse_args()
    if min(args.rows, args.definitions, args.deliveries, args.rounds) < 1:
        parser.error("every count must be at least 1")

    os.environ["DEBUG"] = "0"
    use_bench_database(BENCH_DB, fresh=True)
    import django
    from django.core.management import call_command

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0)
    figures: dict = {}
    if args.part in ("all", "eval"):
        with tempfile.TemporaryDirectory(prefix="chainlake-bench-alerting-") as lake_dir:
            figures.update(bench_evaluation(args, lake_dir))
    if args.part in ("all", "deliveries"):
        figures.update(bench_deliveries(args))
    ok = (
        "eval_rows_per_s" not in figures
        or figures["eval_rows_per_s"] >= EVAL_TARGET * figures["eval_baseline_rows_per_s"]
    ) and ("deliveries_per_s" not in figures or figures["deliveries_per_s"] >= DELIVERY_TARGET)
    print(json.dumps({"bench": "alerting", **figures, "targets_met": ok}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
