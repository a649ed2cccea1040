"""Orchestration benchmark: claim+complete throughput, planning cost vs catalog size, backfill.

Runs against its own database (``chainlake_bench_orchestration``) on the same PostgreSQL server as
the platform (the embedded one unless DATABASE_URL is set), created fresh and migrated each run. Prints each
figure next to its baseline measured in the same run; the last line is one JSON object.

1. claim+complete of no-op tasks from several worker processes (``task_claim_next`` +
   ``task_complete``, the worker's real statements) vs a bare ``SELECT … FOR UPDATE SKIP LOCKED``
   loop on a plain two-column table.
2. planning time of one partitioned job when 1% of its input partitions changed, with 10k, 100k and
   1M partitions in the catalog (baseline: the same plan with its watermarks dropped, i.e. a scan of
   everything, as after a config change).
3. creating a backfill of 100,000 partition-tasks (baseline: a bare INSERT … SELECT of as many rows).

Usage: ``python -m bench.orchestration [--sizes 10000,100000,1000000] [--tasks 20000] [--workers 4]``
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from pathlib import Path

from bench.bench_database import use_bench_database

ROOT = Path(__file__).resolve().parents[1]


BENCH_DB = "chainlake_bench_orchestration"


def prepare_database() -> None:
    """Create the bench database afresh and point Django at it (before django.setup())."""
    os.environ["DEBUG"] = "0"  # no per-query debug recording in the measured processes
    use_bench_database(BENCH_DB, fresh=True)


def setup_django() -> None:
    import django

    django.setup()


# -- 1. claim + complete ------------------------------------------------------------------------
def _our_worker(barrier, results) -> None:
    setup_django()
    from django.db import connection

    from orchestration.services import task_claim_next, task_complete
    from orchestration.services.leases import new_worker_id

    worker_id = new_worker_id()
    done = 0
    connection.ensure_connection()
    barrier.wait()
    while (lease := task_claim_next(worker_id=worker_id)) is not None:
        task_complete(lease=lease)
        done += 1
    results.put(done)


def _bare_worker(dsn, synchronous, barrier, results) -> None:
    import psycopg

    done = 0
    with psycopg.connect(dsn) as conn:
        if not synchronous:
            conn.execute("SET synchronous_commit = off")
            conn.commit()
        barrier.wait()
        while True:
            with conn.transaction():
                row = conn.execute(
                    "SELECT id FROM bench_bare_queue WHERE status = 'queued' ORDER BY id LIMIT 1"
                    " FOR UPDATE SKIP LOCKED"
                ).fetchone()
                if row is None:
                    break
                conn.execute("UPDATE bench_bare_queue SET status = 'done' WHERE id = %s", [row[0]])
            done += 1
    results.put(done)


def _run_workers(target, args, workers: int) -> tuple[int, float]:
    from django.db import connections

    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(workers + 1)
    results = ctx.Queue()
    processes = [ctx.Process(target=target, args=(*args, barrier, results)) for _ in range(workers)]
    for p in processes:
        p.start()
    barrier.wait()
    started = time.perf_counter()
    total = sum(results.get(timeout=600) for _ in processes)
    elapsed = time.perf_counter() - started
    for p in processes:
        p.join(timeout=30)
    return total, elapsed


def bench_claim(n_tasks: int, workers: int, org) -> tuple[float, float, float]:
    from django.db import connection

    from orchestration.services import job_create

    job = job_create(
        org=org,
        name="noop",
        runtime="sql",
        operator="duckdb_sql",
        source={"sql": "SELECT * FROM bench.noop_in"},
        input_datasets=["bench.noop_in"],
        output_datasets=["bench.noop_out"],
        activation="manual",
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO tasks (id, job_id, status, partitions, input_versions, attempts, outputs, created_at)
            SELECT uuidv7(), %s, 'queued', ARRAY['p' || g], '{}', 0, '[]',
                   now() + g * interval '1 microsecond'
            FROM generate_series(1, %s) g
            """,
            [job.id, n_tasks],
        )
        cursor.execute("CREATE TABLE bench_bare_queue (id bigserial PRIMARY KEY, status text NOT NULL)")
        # The same help our ledger gets: a partial index over the queued rows only.
        cursor.execute("CREATE INDEX ON bench_bare_queue (id) WHERE status = 'queued'")
        cursor.execute(
            "INSERT INTO bench_bare_queue (status) SELECT 'queued' FROM generate_series(1, %s)", [n_tasks]
        )
        cursor.execute("VACUUM ANALYZE tasks")
        cursor.execute("VACUUM ANALYZE bench_bare_queue")
    dsn = connection.get_connection_params()
    dsn_string = " ".join(
        f"{k}={v}" for k, v in dsn.items() if k in {"host", "port", "dbname", "user", "password"} and v
    )
    done, ours_s = _run_workers(_our_worker, (), workers)
    assert done == n_tasks, f"claimed {done} of {n_tasks}"
    done, bare_s = _run_workers(_bare_worker, (dsn_string, True), workers)
    assert done == n_tasks
    with connection.cursor() as cursor:
        cursor.execute("UPDATE bench_bare_queue SET status = 'queued'")
        cursor.execute("VACUUM ANALYZE bench_bare_queue")
    done, bare_async_s = _run_workers(_bare_worker, (dsn_string, False), workers)
    assert done == n_tasks
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tasks WHERE job_id = %s AND status = 'succeeded'", [job.id])
        assert cursor.fetchone()[0] == n_tasks
        cursor.execute("DELETE FROM tasks WHERE job_id = %s", [job.id])
        cursor.execute("DROP TABLE bench_bare_queue")
    return n_tasks / ours_s, n_tasks / bare_s, n_tasks / bare_async_s


# -- 2. planning --------------------------------------------------------------------------------
def build_catalog(org, size: int):
    """A partitioned job over ``size`` input partitions, every output built and recorded as read."""
    from django.db import connection

    from orchestration.services import job_create

    job = job_create(
        org=org,
        name=f"plan_{size}",
        runtime="sql",
        operator="duckdb_sql",
        source={"sql": f"SELECT * FROM bench.in_{size}"},
        input_datasets=[f"bench.in_{size}"],
        output_datasets=[f"bench.out_{size}"],
        activation="reactive",
    )
    # Versions spread over the past (50 ms apart) like a catalog built over time.
    old = "now() - interval '2 days' + g * interval '50 ms'"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO partition_versions
                (dataset, partition_key, version, config_hash, schema_hash, location, row_count, bytes)
            SELECT d, 'p' || lpad(g::text, 8, '0'), {old}, %s, 's', d || '/' || g || '.parquet', 1000, 50000
            FROM generate_series(1, %s) g, unnest(ARRAY[%s, %s]) d
            """,
            [job.config_hash, size, f"bench.in_{size}", f"bench.out_{size}"],
        )
        # The tasks that built the outputs, 100 partitions each, and what they read.
        cursor.execute(
            f"""
            CREATE TEMP TABLE built AS
            SELECT uuidv7() AS id, b FROM generate_series(0, (%s - 1) / 100) b;
            INSERT INTO tasks (id, job_id, status, partitions, input_versions, attempts, outputs, created_at,
                               completed_at)
            SELECT id, %s, 'succeeded', ARRAY[]::text[], '{{}}', 1, '[]', now() - interval '1 day',
                   now() - interval '1 day' FROM built;
            INSERT INTO task_inputs (task_id, input_dataset, input_partition, input_version)
            SELECT built.id, %s, 'p' || lpad(g::text, 8, '0'), {old}
            FROM generate_series(1, %s) g JOIN built ON built.b = (g - 1) / 100;
            DROP TABLE built;
            """,
            [size, job.id, f"bench.in_{size}", size],
        )
        cursor.execute("ANALYZE partition_versions; ANALYZE tasks; ANALYZE task_inputs")
    return job


def change_partitions(size: int, count: int, offset: int = 1) -> None:
    """Publish a new version of ``count`` input partitions spread over the dataset."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE partition_versions SET version = clock_timestamp()
            WHERE dataset = %s AND partition_key IN (
                SELECT 'p' || lpad(g::text, 8, '0') FROM generate_series(%s, %s, %s) g)
            """,
            [f"bench.in_{size}", offset, size, size // count],
        )


def mark_all_built(size: int) -> None:
    """As if every stale output had been rebuilt from the current inputs (outputs newer, reads recorded)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE task_inputs ti SET input_version = i.version
            FROM partition_versions i
            WHERE i.dataset = %s AND ti.input_dataset = i.dataset AND ti.input_partition = i.partition_key
              AND ti.input_version < i.version
            """,
            [f"bench.in_{size}"],
        )
        cursor.execute(
            """
            UPDATE partition_versions o SET version = clock_timestamp()
            FROM partition_versions i
            WHERE i.dataset = %s AND o.dataset = %s AND o.partition_key = i.partition_key
              AND i.version > o.version
            """,
            [f"bench.in_{size}", f"bench.out_{size}"],
        )


def bench_plan(org, size: int) -> dict[str, float]:
    from orchestration.models import Task
    from orchestration.services import job_plan
    from versioning.models import DatasetCursor

    job = build_catalog(org, size)
    job_plan(job=job)  # sets the watermark: nothing is stale yet
    assert not Task.objects.filter(job=job, status="pending").exists()
    change_partitions(size, size // 100)
    started = time.perf_counter()
    result = job_plan(job=job)
    one_percent_s = time.perf_counter() - started
    assert result.created == size // 100, (result.created, size)
    # Baseline: the same plan with the watermark dropped (every input partition examined).
    Task.objects.filter(job=job, status="pending").delete()
    DatasetCursor.objects.filter(job=job).delete()
    started = time.perf_counter()
    full = job_plan(job=job)
    full_s = time.perf_counter() - started
    assert full.created == size // 100
    # The same 100 changed partitions at every size: the cost should not move with the catalog.
    # The 1% just rebuilt would sit inside the 60 s commit margin (every plan re-checks what was
    # published in the last minute), so this one measurement uses a 2 s margin and waits it out.
    from django.conf import settings

    Task.objects.filter(job=job, status="pending").delete()
    mark_all_built(size)
    margin = settings.PLANNER_COMMIT_MARGIN_SECONDS
    settings.PLANNER_COMMIT_MARGIN_SECONDS = 2
    time.sleep(2.5)
    job_plan(job=job)
    assert not Task.objects.filter(job=job, status="pending").exists()
    change_partitions(size, 100, offset=2)
    started = time.perf_counter()
    hundred = job_plan(job=job)
    hundred_s = time.perf_counter() - started
    settings.PLANNER_COMMIT_MARGIN_SECONDS = margin
    assert hundred.created == 100, hundred.created
    Task.objects.filter(job=job, status="pending").delete()
    return {"one_percent": one_percent_s, "full": full_s, "hundred": hundred_s}


# -- 3. backfill --------------------------------------------------------------------------------
def bench_backfill(org, n: int = 100_000) -> tuple[float, float]:
    from django.db import connection

    from orchestration.models import Task
    from orchestration.services import job_backfill, job_create

    job = job_create(
        org=org,
        name="backfill",
        runtime="sql",
        operator="duckdb_sql",
        source={"sql": f"SELECT * FROM bench.in_{n}"},
        input_datasets=[f"bench.in_{n}"],
        output_datasets=["bench.backfilled"],
        activation="manual",
        scaling={"batch_size": 1},
    )
    started = time.perf_counter()
    result = job_backfill(job=job, first="p00000001", last=f"p{n:08d}")
    backfill_s = time.perf_counter() - started
    assert result.created == n, result.created
    Task.objects.filter(job=job).delete()
    with connection.cursor() as cursor:
        started = time.perf_counter()
        cursor.execute(
            """
            INSERT INTO tasks (id, job_id, status, partitions, input_versions, attempts, outputs, created_at)
            SELECT uuidv7(), %s, 'pending', ARRAY['p' || lpad(g::text, 8, '0')], '{}', 0, '[]', now()
            FROM generate_series(1, %s) g
            """,
            [job.id, n],
        )
        bare_s = time.perf_counter() - started
    Task.objects.filter(job=job).delete()
    return backfill_s, bare_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--tasks", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--only", choices=["claim", "plan", "backfill"], help="run one part (no JSON line)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    prepare_database()
    setup_django()
    from django.core.management import call_command

    from orgs.models import Org

    call_command("migrate", verbosity=0)
    org = Org.objects.create(slug="bench", name="Bench")

    if args.only in (None, "claim"):
        ours, bare, bare_async = bench_claim(args.tasks, args.workers, org)
        print(
            f"claim+complete: {ours:,.0f} tasks/s with {args.workers} worker processes; "
            f"bare SKIP LOCKED loop: {bare:,.0f} tasks/s (ratio {ours / bare:.2f}); "
            f"bare loop with synchronous_commit off like our claims: {bare_async:,.0f} tasks/s "
            f"(ratio {ours / bare_async:.2f})",
            flush=True,
        )
    if args.only == "claim":
        return

    plan, hundred = {}, {}
    if args.only in (None, "plan"):
        for size in sizes:
            figures = bench_plan(org, size)
            plan[str(size)] = round(figures["one_percent"], 4)
            hundred[str(size)] = round(figures["hundred"], 4)
            ratio = figures["one_percent"] / figures["full"]
            print(
                f"plan, {size:,} partitions, 1% changed: {figures['one_percent']:.3f} s "
                f"({size // 100:,} tasks); "
                f"baseline full scan: {figures['full']:.3f} s (ratio {ratio:.2f}); "
                f"100 changed: {figures['hundred']:.3f} s",
                flush=True,
            )
        if len(sizes) > 1:
            first, last = str(sizes[0]), str(sizes[-1])
            print(
                f"plan ratio {sizes[-1]:,}/{sizes[0]:,}: 1% changed {plan[last] / plan[first]:.2f} "
                f"(the change grows with the catalog); 100 changed {hundred[last] / hundred[first]:.2f}"
            )
    if args.only == "plan":
        return

    backfill_n = 100_000 if 100_000 in sizes else sizes[-1]
    backfill_s, bare_insert_s = bench_backfill(org, backfill_n)
    print(
        f"backfill of {backfill_n:,} partition-tasks: {backfill_s:.3f} s; "
        f"baseline bare INSERT … SELECT: {bare_insert_s:.3f} s; ratio {backfill_s / bare_insert_s:.2f}"
    )

    print(
        json.dumps(
            {
                "bench": "orchestration",
                "claim_complete_per_s": round(ours),
                "bare_skip_locked_per_s": round(bare),
                "bare_skip_locked_async_commit_per_s": round(bare_async),
                "plan_1pct_s": plan,
                "plan_100_changed_s": hundred,
                "backfill_100k_s": round(backfill_s, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
