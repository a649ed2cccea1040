"""Runs that overlap: identical runs execute once, cancel mid-run, async on real workers, a
killed worker's result reaped as ``timeout``, and the scheduled mode through a job."""

import threading
import time

import pytest
from django.db import connections

from queries.models import QueryResult
from queries.services import execution, query_execute, query_result_cancel, query_results_reap
from testkit.factories import SavedQueryFactory
from testkit.workers import QCluster, wait_for
from versioning.storage import result_store

pytestmark = pytest.mark.django_db(transaction=True)

SLOW = "SELECT count(*) AS n FROM evm.blocks, range(20000000) r"
ENDLESS = "SELECT count(*) AS n FROM range(1000000000000) a"


def in_thread(target, *args, **kwargs):
    outcome = {}

    def work():
        try:
            outcome["result"] = target(*args, **kwargs)
        except Exception as exc:  # surfaced by the test's asserts
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=work)
    thread.start()
    return thread, outcome


def test_ten_identical_concurrent_runs_execute_once(analyst, evm_blocks):
    from datetime import timedelta

    from django.utils import timezone

    from versioning.models import PartitionVersion

    # Published a minute ago: a result created now is unambiguously newer than the data.
    PartitionVersion.objects.update(version=timezone.now() - timedelta(minutes=1))
    runs = [in_thread(query_execute, user=analyst, sql=SLOW) for _ in range(10)]
    for thread, _ in runs:
        thread.join(timeout=120)
    results = [outcome.get("result") for _, outcome in runs]
    assert all(r is not None and r.status == "succeeded" for r in results), [o for _, o in runs]
    assert len({r.output_location for r in results}) == 1  # one execution, nine reuses
    assert len(list(result_store().list_files())) == 1
    assert result_store().read_table(results[0].output_location)["n"].to_pylist() == [200 * 20000000]


def test_cancel_stops_a_running_query_within_a_second_or_so(analyst, evm_blocks):
    thread, outcome = in_thread(query_execute, user=analyst, sql=ENDLESS)
    wait_for(
        lambda: QueryResult.objects.filter(status="running").exists(), timeout=60, every=0.05, what="running"
    )
    result = QueryResult.objects.get(status="running")
    assert query_result_cancel(result=result)
    cancelled_at = time.monotonic()
    thread.join(timeout=30)
    assert not thread.is_alive()
    stopped_after = time.monotonic() - cancelled_at
    result.refresh_from_db()
    assert (result.status, result.error_code) == ("cancelled", "cancelled")
    assert outcome["result"].status == "cancelled"
    assert not list(result_store().list_files())
    # The watchdog polls every 0.2 s; generous bound for a loaded machine.
    assert stopped_after < 5


def test_async_runs_on_a_real_worker(analyst, evm_blocks, tmp_path, settings):
    cluster = QCluster(
        lake_url=settings.STORAGE_URL,
        log_path=tmp_path / "qcluster.log",
        env={"RESULT_STORAGE_URL": settings.RESULT_STORAGE_URL, "CHAINLAKE_SYSTEM_NAMESPACES": "evm"},
    )
    try:
        result = query_execute(user=analyst, sql="SELECT count(*) AS n FROM evm.blocks", mode="async")
        assert result.status == "queued"
        wait_for(
            lambda: QueryResult.objects.get(pk=result.pk).status not in ("queued", "running"),
            timeout=120,
            what=f"the async result; worker log:\n{cluster.output()}",
        )
        result.refresh_from_db()
        assert result.status == "succeeded", (result.error_message, cluster.output())
        assert result_store().read_table(result.output_location)["n"].to_pylist() == [200]
        # A running async query is cancelled from here and stops on the worker.
        endless = query_execute(user=analyst, sql=ENDLESS, mode="async")
        wait_for(
            lambda: QueryResult.objects.get(pk=endless.pk).status == "running", timeout=120, what="running"
        )
        query_result_cancel(result=endless)
        follow = query_execute(user=analyst, sql="SELECT 42 AS answer", mode="async")
        wait_for(
            lambda: QueryResult.objects.get(pk=follow.pk).status == "succeeded",
            timeout=120,
            what="the worker to be free again",
        )
        endless.refresh_from_db()
        assert endless.status == "cancelled"
    finally:
        cluster.stop()


def test_a_killed_worker_leaves_a_result_the_reaper_marks_timeout(
    analyst, evm_blocks, tmp_path, settings, monkeypatch
):
    analyst.org.settings = {"query_timeout_seconds": 600}
    analyst.org.save()
    cluster = QCluster(
        lake_url=settings.STORAGE_URL,
        log_path=tmp_path / "qcluster.log",
        env={"RESULT_STORAGE_URL": settings.RESULT_STORAGE_URL, "CHAINLAKE_SYSTEM_NAMESPACES": "evm"},
    )
    try:
        result = query_execute(user=analyst, sql=ENDLESS, mode="async")
        wait_for(
            lambda: QueryResult.objects.get(pk=result.pk).status == "running", timeout=120, what="running"
        )
    finally:
        cluster.stop()  # SIGTERM, then SIGKILL: the run never finishes
    result.refresh_from_db()
    assert result.status == "running"
    assert query_results_reap() == 0  # still within its timeout
    analyst.org.settings = {"query_timeout_seconds": 1}
    analyst.org.save()
    monkeypatch.setattr(execution, "LOST_GRACE_SECONDS", 0)
    time.sleep(1.5)
    assert query_results_reap() == 1
    result.refresh_from_db()
    assert (result.status, result.error_code) == ("failed", "timeout")


def test_scheduled_mode_runs_a_saved_query_as_a_job_and_publishes_it(analyst, evm_blocks, run_tasks):
    from orchestration.services import job_create, job_plan
    from versioning.models import PartitionVersion
    from versioning.storage import lake

    saved = SavedQueryFactory(
        org=analyst.org, user=analyst, query="SELECT miner, count(*) AS blocks FROM evm.blocks GROUP BY 1"
    )
    job = job_create(
        org=analyst.org,
        name="miners",
        runtime="sql",
        operator="saved_query",
        source={"saved_query": str(saved.pk)},
        input_datasets=["evm.blocks"],
        output_datasets=["acme.miners"],
        activation="schedule",
        execution_strategy="full",
        config={"schedule": "0 * * * *"},
    )
    job_plan(job=job, force=True)
    run_tasks()
    version = PartitionVersion.objects.get(dataset="acme.miners")
    assert version.partition_key == "all"
    table = lake().read_table(version.location)
    assert sorted(table["blocks"].to_pylist()) == sorted([29, 29, 29, 29, 28, 28, 28])
    result = QueryResult.objects.get(mode="scheduled")
    assert result.task is not None and result.task.job_id == job.pk
    assert result.saved_query_id == saved.pk
    # The published dataset is queryable in turn.
    again = query_execute(user=analyst, sql="SELECT sum(blocks) AS n FROM acme.miners")
    assert result_store().read_table(again.output_location)["n"].to_pylist() == [200]


def test_saved_query_job_must_list_what_the_sql_reads(analyst, evm_blocks):
    from django.core.exceptions import ValidationError

    from orchestration.services import job_create

    saved = SavedQueryFactory(org=analyst.org, user=analyst, query="SELECT * FROM evm.blocks")
    with pytest.raises(ValidationError) as refused:
        job_create(
            org=analyst.org,
            name="m",
            runtime="sql",
            operator="saved_query",
            source={"saved_query": str(saved.pk)},
            input_datasets=[],
            output_datasets=["acme.m"],
            execution_strategy="full",
        )
    assert "input_datasets" in refused.value.message_dict
