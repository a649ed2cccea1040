"""End to end on real processes: a qcluster runs the DAG; kill -9 mid-task and mid-publish.

The test process plays the periodic tick (reap, plan, dispatch) every half second instead of
django-q2's one-minute schedule, so the reaper's recovery shows up within seconds.
"""

import hashlib
import os
import signal
import threading

import duckdb
import pyarrow as pa
import pytest
from django.db import connection

from chains.operators.synthetic_chain import generate
from orchestration import services
from orchestration.models import Task, TaskInput
from testkit.factories import OrgFactory, platform_org_for_tests, sql_job, synthetic_source_job
from testkit.workers import QCluster, wait_for
from versioning.models import PartitionVersion
from versioning.storage import lake

pytestmark = pytest.mark.django_db(transaction=True)

BLOCKS = 300
SIZE = 100


@pytest.fixture
def lake_url(settings, tmp_path):
    url = (tmp_path / "shared-lake").as_uri()
    settings.STORAGE_URL = url
    return url


@pytest.fixture
def start_cluster(lake_url, tmp_path):
    clusters = []

    def start(**env):
        cluster = QCluster(lake_url=lake_url, log_path=tmp_path / f"qcluster{len(clusters)}.log", env=env)
        clusters.append(cluster)
        return cluster

    yield start
    for cluster in clusters:
        cluster.stop()


def tick():
    services.tasks_reap()
    services.plan_active_jobs()
    services.tasks_dispatch()


def all_done() -> bool:
    return not Task.objects.filter(status__in=Task.LIVE_STATUSES).exists()


def read_dataset(dataset: str) -> pa.Table:
    rows = PartitionVersion.objects.filter(dataset=dataset).order_by("partition_key")
    return pa.concat_tables([lake().read_table(pv.location) for pv in rows])


def checksum(table: pa.Table) -> tuple[int, str]:
    """Row-level checksum: order-independent digest of every row."""
    digests = sorted(hashlib.sha256(repr(row).encode()).hexdigest() for row in table.to_pylist())
    return len(digests), hashlib.sha256("".join(digests).encode()).hexdigest()


def clean_chain() -> dict[str, pa.Table]:
    """The source datasets a clean run produces (the generator is deterministic)."""
    config = {"end_block": BLOCKS - 1, "partition_size": SIZE}
    parts = [generate(config, f"blocks_{n:08d}") for n in range(0, BLOCKS, SIZE)]
    return {
        d: pa.concat_tables([p[d] for p in parts]) for d in ("evm.blocks", "evm.transactions", "evm.logs")
    }


TX_SQL = (
    "SELECT b.block_number, b.miner, count(t.tx_hash) AS txs, coalesce(sum(t.value_gwei), 0) AS value_gwei "
    "FROM evm.blocks b LEFT JOIN evm.transactions t ON t.block_number = b.block_number GROUP BY ALL"
)
MINER_SQL = (
    "SELECT miner, sum(txs) AS txs, sum(value_gwei) AS value_gwei FROM acme.tx_per_block GROUP BY miner"
)


def test_three_job_dag_under_qcluster_matches_duckdb(start_cluster):
    org = OrgFactory(slug="acme")
    source = synthetic_source_job(platform_org_for_tests(), end_block=BLOCKS - 1, partition_size=SIZE)
    sql_job(org, "tx_per_block", TX_SQL, ["evm.blocks", "evm.transactions"], "acme.tx_per_block")
    sql_job(
        org,
        "miner_totals",
        MINER_SQL,
        ["acme.tx_per_block"],
        "acme.miner_totals",
        config={"partition_mapping": "all"},
    )
    cluster = start_cluster()
    services.job_run_now(job=source)

    def aggregate_is_current() -> bool:
        # Finished means the aggregate was built from every current input version, not merely that
        # it exists: between an input's publish and the downstream plan, an older build looks done.
        last = (
            Task.objects.filter(job__name="miner_totals", status="succeeded")
            .order_by("-completed_at")
            .first()
        )
        current = set(
            PartitionVersion.objects.filter(dataset="acme.tx_per_block").values_list(
                "partition_key", "version"
            )
        )
        return (
            last is not None and set(last.inputs.values_list("input_partition", "input_version")) == current
        )

    wait_for(
        lambda: (
            PartitionVersion.objects.filter(dataset="acme.tx_per_block").count() == 3
            and aggregate_is_current()
            and all_done()
        ),
        timeout=120,
        tick=tick,
        what=f"the DAG to finish\n{cluster.output()}",
    )
    assert cluster.alive()
    assert not Task.objects.exclude(status="succeeded").exists()

    clean = clean_chain()
    con = duckdb.connect()
    con.execute("CREATE SCHEMA evm; CREATE SCHEMA acme")
    con.register("b", clean["evm.blocks"])
    con.register("t", clean["evm.transactions"])
    con.execute("CREATE VIEW evm.blocks AS SELECT * FROM b; CREATE VIEW evm.transactions AS SELECT * FROM t")
    con.execute(f"CREATE TABLE acme.tx_per_block AS {TX_SQL}")
    expected_tx = con.sql("SELECT * FROM acme.tx_per_block").to_arrow_table()
    expected_miners = con.sql(MINER_SQL).to_arrow_table()
    assert checksum(read_dataset("evm.blocks")) == checksum(clean["evm.blocks"])
    assert checksum(read_dataset("acme.tx_per_block")) == checksum(expected_tx)
    assert checksum(read_dataset("acme.miner_totals")) == checksum(expected_miners)
    # Each task recorded the input versions it read; the last aggregate read the current ones.
    tx_inputs = TaskInput.objects.filter(task__job__name="tx_per_block", task__status="succeeded")
    assert tx_inputs.count() == 3 * 2
    last = Task.objects.filter(job__name="miner_totals", status="succeeded").order_by("-completed_at").first()
    current = set(
        PartitionVersion.objects.filter(dataset="acme.tx_per_block").values_list("partition_key", "version")
    )
    assert set(last.inputs.values_list("input_partition", "input_version")) == current


class Reader(threading.Thread):
    """Reads the dataset through the catalog as fast as it can; records any partial partition."""

    def __init__(self, dataset: str, expected: dict[str, pa.Table]):
        super().__init__(daemon=True)
        self.dataset, self.expected = dataset, expected
        self.stop = threading.Event()
        self.reads = 0
        self.problems: list[str] = []

    def run(self):
        try:
            while not self.stop.is_set():
                for pv in PartitionVersion.objects.filter(dataset=self.dataset):
                    table = lake().read_table(pv.location)
                    self.reads += 1
                    if table.num_rows != pv.row_count or not table.equals(self.expected[pv.partition_key]):
                        self.problems.append(f"{pv.partition_key}: {table.num_rows} rows vs {pv.row_count}")
                self.stop.wait(0.05)
        finally:
            connection.close()


def expected_copies() -> dict[str, pa.Table]:
    config = {"end_block": BLOCKS - 1, "partition_size": SIZE}
    return {
        f"blocks_{n:08d}": generate(config, f"blocks_{n:08d}")["evm.blocks"].select(
            ["block_number", "block_hash"]
        )
        for n in range(0, BLOCKS, SIZE)
    }


def crash_setup(start_cluster, **env):
    from orchestration.services import job_create

    org = OrgFactory(slug="acme")
    source = synthetic_source_job(platform_org_for_tests(), end_block=BLOCKS - 1, partition_size=SIZE)
    job = job_create(
        org=org,
        name="slow_copy",
        runtime="python",
        operator="python",
        source={"callable": "tests.orchestration.slow:slow_copy"},
        input_datasets=["evm.blocks"],
        output_datasets=["acme.slow_copy"],
        activation="reactive",
        heartbeat_timeout_seconds=2,
        max_attempts=3,
    )
    cluster = start_cluster(**env)
    services.job_run_now(job=source)
    return job, cluster


def kill_worker_of(task: Task) -> int:
    pid = int(task.worker_id.split(":")[1])
    os.kill(pid, signal.SIGKILL)
    return pid


def finish_and_check(job, cluster, reader):
    wait_for(
        lambda: all_done() and PartitionVersion.objects.filter(dataset="acme.slow_copy").count() == 3,
        timeout=120,
        tick=tick,
        what=f"recovery\n{cluster.output()}",
    )
    reader.stop.set()
    reader.join(timeout=10)
    assert reader.problems == []
    assert reader.reads > 0
    expected = expected_copies()
    assert checksum(read_dataset("acme.slow_copy")) == checksum(pa.concat_tables(expected.values()))
    assert not Task.objects.filter(job=job).exclude(status="succeeded").exists()


def test_kill_9_mid_task_is_retried_and_lake_matches_clean_run(start_cluster):
    job, cluster = crash_setup(start_cluster)
    reader = Reader("acme.slow_copy", expected_copies())
    reader.start()
    wait_for(
        lambda: Task.objects.filter(job=job, status="running").exists(),
        timeout=60,
        tick=tick,
        every=0.2,
        what="a running slow task",
    )
    victim = Task.objects.filter(job=job, status="running").first()
    killed_worker = victim.worker_id
    kill_worker_of(victim)
    wait_for(
        lambda: "no heartbeat" in (Task.objects.get(pk=victim.pk).error_message or ""),
        timeout=60,
        tick=tick,
        every=0.1,
        what="the reaper to fail the killed attempt",
    )
    finish_and_check(job, cluster, reader)
    victim.refresh_from_db()
    # Another worker finished it under a new lease; what the catalog holds is that attempt's file.
    assert victim.status == "succeeded" and victim.attempts >= 2
    assert victim.worker_id != killed_worker
    [published] = PartitionVersion.objects.filter(dataset="acme.slow_copy", location__contains=str(victim.id))
    assert f"{victim.id}-{victim.attempts}-" in published.location


def test_kill_9_mid_publish_leaves_previous_version_and_is_retried(start_cluster, tmp_path):
    job, cluster = crash_setup(
        start_cluster,
        CHAINLAKE_FAULT_PUBLISH_PAUSE_SECONDS="3",
        CHAINLAKE_FAULT_PUBLISH_PAUSE_JOB="slow_copy",
    )
    reader = Reader("acme.slow_copy", expected_copies())
    reader.start()
    folder = tmp_path / "shared-lake" / "acme" / "slow_copy"

    def written_unpublished():
        files = list(folder.rglob("*.parquet")) if folder.exists() else []
        published = set(
            PartitionVersion.objects.filter(dataset="acme.slow_copy").values_list("location", flat=True)
        )
        return any(str(f.relative_to(tmp_path / "shared-lake")) not in published for f in files)

    wait_for(written_unpublished, timeout=60, tick=tick, every=0.1, what="a file written before publish")
    # The publish transaction is now open (held for 3 s): kill the worker inside it.
    with connection.cursor() as cursor:
        wait_for(lambda: _publish_open(cursor), timeout=10, every=0.05, what="an open publish transaction")
    victim = Task.objects.filter(job=job, status="running").first()
    kill_worker_of(victim)
    assert not PartitionVersion.objects.filter(
        dataset="acme.slow_copy", location__contains=str(victim.id)
    ).exists()
    finish_and_check(job, cluster, reader)
    victim.refresh_from_db()
    assert victim.attempts >= 2


def _publish_open(cursor) -> bool:
    """A worker sits inside its publish transaction: catalog written, task marked, not committed."""
    cursor.execute(
        "SELECT 1 FROM pg_stat_activity WHERE state = 'idle in transaction' AND query LIKE %s LIMIT 1",
        ["%UPDATE tasks SET status = 'succeeded', completed_at = now(), outputs%"],
    )
    return cursor.fetchone() is not None
