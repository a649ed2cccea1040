"""The short path of a task run: claim and load in one statement, a run with nothing to publish
completed by one fenced statement, and the dispatch that follows it only when its job has due work."""

import os
import threading
import time

import pytest
from django.utils import timezone

from orchestration.models import Task
from orchestration.services import LeaseLost, job_create, task_cancel, task_execute, tasks_dispatch
from orchestration.services.inputs import task_context
from orchestration.services.leases import task_claim, task_claim_loaded
from orchestration.services.publish import has_nothing_to_publish, task_publish, task_publish_nothing
from orchestration.services.watchdog import _watchdog_threads, _watchdogs_not_yet_due, _WatchdogsNotYetDue
from testkit.factories import OrgFactory
from versioning.models import DatasetCursor


@pytest.fixture
def org(db):
    return OrgFactory(slug="acme")


def never_called(table):
    raise AssertionError("a task without partitions has no input for the operator")


def idle_job(org, name, **fields):
    """A job whose tasks carry no partitions: the operator has nothing to read or write."""
    return job_create(
        org=org,
        name=name,
        runtime="python",
        operator="python",
        source={"callable": "tests.orchestration.test_task_fast_path:never_called"},
        input_datasets=["evm.blocks"],
        output_datasets=[f"acme.{name}"],
        activation="manual",
        **fields,
    )


def pending(job, n=1, **fields):
    return [Task.objects.create(job=job, status="pending", partitions=[], **fields) for _ in range(n)]


def test_the_claim_returns_the_task_its_job_org_and_cursors_as_the_orm_reads_them(org):
    job = idle_job(org, "a", config={"on_schema_change": "accept", "note": "kept"}, scaling={"priority": 3})
    DatasetCursor.objects.create(dataset="evm.blocks", job=job, cursor_column="number", cursor_value="42")
    (task,) = pending(job, input_versions={"invalidations": ["x"]})

    lease, claimed, cursors = task_claim_loaded(task_id=task.id, worker_id="w1")

    loaded = Task.objects.select_related("job", "job__org").get(pk=task.id)
    for field in Task._meta.concrete_fields:
        assert getattr(claimed, field.attname) == getattr(loaded, field.attname), field.name
    for field in type(job)._meta.concrete_fields:
        assert getattr(claimed.job, field.attname) == getattr(loaded.job, field.attname), field.name
    assert claimed.job.org == org and claimed.job.org.slug == "acme"
    assert (claimed.status, claimed.worker_id, claimed.attempts) == ("running", "w1", 1)
    assert (lease.worker_id, lease.attempt) == ("w1", 1)
    assert cursors == {"evm.blocks": "42"}
    # The claim is a claim: a second one takes nothing.
    assert task_claim_loaded(task_id=task.id, worker_id="w2") is None


def test_nothing_to_publish_records_what_the_publish_transaction_records(org):
    job = idle_job(org, "a")
    # The job's last success saw a schema; both paths carry it forward.
    Task.objects.create(
        job=job,
        status="succeeded",
        partitions=[],
        completed_at=timezone.now(),
        input_versions={"schemas": {"evm.blocks": ["abc"]}},
    )
    short, full = pending(job, 2, input_versions={"planned": "yes"})
    recorded = {}
    for task, publish in ((short, task_publish_nothing), (full, task_publish)):
        lease = task_claim(task_id=task.id, worker_id="w")
        loaded = Task.objects.select_related("job").get(pk=task.id)
        ctx = task_context(lease=lease, job=loaded.job, task=loaded)
        assert has_nothing_to_publish(ctx)
        publish(lease=lease, ctx=ctx)
        task.refresh_from_db()
        assert task.status == "succeeded" and task.completed_at is not None
        recorded[publish] = (task.outputs, task.input_versions, task.partitions, task.error_message)
    assert recorded[task_publish_nothing] == recorded[task_publish]
    assert recorded[task_publish][1] == {
        "planned": "yes",
        "read": {"evm.blocks": {}},
        "schemas": {"evm.blocks": ["abc"]},
    }


def test_nothing_to_publish_is_fenced(org):
    job = idle_job(org, "a")
    (task,) = pending(job)
    lease = task_claim(task_id=task.id, worker_id="w")
    loaded = Task.objects.select_related("job").get(pk=task.id)
    ctx = task_context(lease=lease, job=loaded.job, task=loaded)
    assert task_cancel(task=task)
    with pytest.raises(LeaseLost):
        task_publish_nothing(lease=lease, ctx=ctx)
    task.refresh_from_db()
    assert task.status == "cancelled"


def test_a_run_that_reads_or_writes_takes_the_publish_transaction(org):
    job = idle_job(org, "a")
    (task,) = pending(job)
    lease = task_claim(task_id=task.id, worker_id="w")
    loaded = Task.objects.select_related("job").get(pk=task.id)
    ctx = task_context(lease=lease, job=loaded.job, task=loaded)
    ctx.retirements["acme.a"] = {"p1"}
    assert not has_nothing_to_publish(ctx)
    incremental = idle_job(org, "b", execution_strategy="incremental")
    ctx = task_context(lease=lease, job=incremental, task=loaded)
    assert not has_nothing_to_publish(ctx)  # its cursors advance at publish


def test_a_completion_dispatches_its_jobs_waiting_task_and_nothing_else(org):
    limited = idle_job(org, "limited", scaling={"max_concurrency": 1})
    other = idle_job(org, "other")
    first, second = pending(limited, 2)
    assert tasks_dispatch(enqueue=False) == [first.id]  # second waits for room

    assert task_execute(task_id=first.id) == "succeeded"
    assert Task.objects.get(pk=second.id).status == "queued"  # its job had room again

    (late,) = pending(other)
    assert task_execute(task_id=second.id) == "succeeded"
    # Nothing published and no due work of its own job: no dispatch pass (the supervisor's loop
    # and the tick dispatch other jobs' work).
    assert Task.objects.get(pk=late.id).status == "pending"
    assert tasks_dispatch(enqueue=False) == [late.id]


def test_short_tasks_wake_no_watchdog_thread_and_a_forked_child_starts_afresh(org):
    job = idle_job(org, "a")
    watchdogs = {t.ident for t in threading.enumerate() if t.name == "watchdog"}
    for task in pending(job, 5):
        assert task_execute(task_id=task.id) == "succeeded"
    # Each was over before its first check was due: no watchdog thread ran for any of them, and
    # one thread per process looks at the waiting ones.
    assert {t.ident for t in threading.enumerate() if t.name == "watchdog"} == watchdogs
    assert len([t for t in threading.enumerate() if t.name == "watchdog-starter"]) == 1
    time.sleep(3 * _WatchdogsNotYetDue.TICK)
    assert not _watchdogs_not_yet_due._waiting  # the finished ones are dropped

    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        forgotten = (
            not _watchdogs_not_yet_due._waiting
            and _watchdogs_not_yet_due._thread is None
            and not _watchdog_threads._idle
        )
        os.write(write, b"1" if forgotten else b"0")
        os._exit(0)
    os.waitpid(child, 0)
    assert os.read(read, 16) == b"1"


def test_the_hot_statements_are_prepared_once_per_connection(org):
    """Claims and output-less completions are parsed and planned once per connection, not per call
    (Django's own cursors never prepare; the engine's hot path must not run through them)."""
    from django.db import connection

    job = idle_job(org, "a")
    for task in pending(job, 3):
        assert task_execute(task_id=task.id) == "succeeded"
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("UPDATE tasks t SET status = 'running'" in sql for sql in prepared)
    assert any("UPDATE tasks t SET status = 'succeeded'" in sql for sql in prepared)
    assert len(prepared) == len(set(prepared))  # each once, however many tasks ran
