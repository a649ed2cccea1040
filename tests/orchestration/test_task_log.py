"""A task's log lines: every line logged while it runs (transitions, the operator's own lines, its
exception) is kept per task, shown on the task's page to whoever may read the task, capped in size,
and removed with the task by retention."""

import logging
from datetime import timedelta

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from orchestration.models import Job, Task
from orchestration.services import job_backfill, job_create, job_plan, task_execute, tasks_dispatch
from platform_site.record_logs import (
    MAX_BYTES,
    TASKS,
    record_log_append,
    record_log_path,
    record_log_read,
)
from platform_site.retention import retention_prune
from testkit.factories import OrgFactory, UserFactory, platform_org_for_tests, synthetic_source_job
from testkit.workers import QCluster, wait_for
from tests.orchestration.conftest import drain
from versioning.models import PartitionVersion

operator_log = logging.getLogger("tests.operator")


def chatty(table):
    """Logs a line the way any operator does, with plain ``logging``."""
    operator_log.info("operator read %s rows", table.num_rows)
    return table


def broken(table):
    operator_log.warning("about to fail on <purpose>")
    raise RuntimeError("the operator broke")


def python_job(org, name: str, function: str, **fields) -> Job:
    return job_create(
        org=org,
        name=name,
        runtime="python",
        operator="python",
        source={"callable": f"tests.orchestration.test_task_log:{function}"},
        input_datasets=["evm.blocks"],
        output_datasets=[f"{org.slug}.{name}"],
        activation="manual",
        **fields,
    )


def one_task(job: Job) -> Task:
    job_backfill(job=job, partition_keys=["blocks_00000000"])
    return job.tasks.get()


@pytest.fixture
def logs_dir(settings, tmp_path):
    settings.RECORD_LOG_DIR = tmp_path / "logs"
    return settings.RECORD_LOG_DIR


@pytest.fixture
def org(db):
    return OrgFactory(slug="acme")


@pytest.fixture
def chain(db, logs_dir, run_tasks):
    source = synthetic_source_job(end_block=99, partition_size=100)
    job_plan(job=source)
    run_tasks()
    return source


def task_page(client, task: Task):
    return client.get(reverse("admin:orchestration_task_change", args=[task.pk]))


def test_operator_lines_and_the_exception_show_on_the_task_page(org, chain, client):
    good = one_task(python_job(org, "chatty", "chatty"))
    bad = one_task(python_job(org, "broken", "broken", max_attempts=1))
    assert task_execute(task_id=good.id) == "succeeded"
    assert task_execute(task_id=bad.id) == "failed"

    messages = [line["message"] for line in record_log_read(TASKS, good.id)]
    # In order: the claim, the operator's own line (which knew nothing of the task), the success
    # (then what the run did after, such as dispatching downstream work).
    assert messages[:3] == [
        f"task {good.id} -> running",
        "operator read 100 rows",
        f"task {good.id} -> succeeded",
    ]
    reader = UserFactory(org=org, role="viewer", is_staff=True)
    client.force_login(reader)
    page = task_page(client, good).content.decode()
    assert "No log lines recorded" not in page
    assert page.index(f"task {good.id} -&gt; running") < page.index("operator read 100 rows")
    assert page.index("operator read 100 rows") < page.index(f"task {good.id} -&gt; succeeded")
    assert "tests.operator" in page

    page = task_page(client, bad).content.decode()
    assert "about to fail on &lt;purpose&gt;" in page and "<purpose>" not in page
    assert "Traceback (most recent call last)" in page and "RuntimeError: the operator broke" in page
    assert f"task {bad.id} failed: RuntimeError: the operator broke" in page


def test_another_orgs_member_gets_a_404_and_a_task_without_lines_says_so(org, chain, client):
    task = one_task(python_job(org, "chatty", "chatty"))
    stranger = UserFactory(org=OrgFactory(slug="zeta"), role="owner", is_staff=True)
    client.force_login(stranger)
    assert task_page(client, task).status_code == 404
    client.force_login(UserFactory(org=org, role="member", is_staff=True))
    page = task_page(client, task)
    assert page.status_code == 200
    assert (
        "No log lines recorded for this task (they are kept on the machine that ran it)"
        in page.content.decode()
    )


def test_a_chatty_task_stops_at_the_cap_with_a_truncated_line(logs_dir):
    task_id = "01890000-0000-7000-8000-000000000001"
    line = {"ts": timezone.now().isoformat(), "level": "INFO", "logger": "x", "message": "y" * 1000}
    written = sum(record_log_append(TASKS, task_id, line) for _ in range(3000))
    path = record_log_path(TASKS, task_id)
    assert written < 3000
    assert MAX_BYTES <= path.stat().st_size < MAX_BYTES + 2000
    lines = record_log_read(TASKS, task_id, limit=10_000)
    assert lines[-1].get("truncated") is True and "log truncated" in lines[-1]["message"]
    assert sum(1 for entry in lines if entry.get("truncated")) == 1
    assert len(record_log_read(TASKS, task_id)) == 500  # the page shows the last 500
    assert not record_log_append(TASKS, task_id, line)  # nothing more is written
    assert record_log_path(TASKS, "../../etc/passwd") is None


def test_retention_removes_the_files_of_pruned_tasks(org, chain, settings):
    old = one_task(python_job(org, "old", "chatty"))
    task_execute(task_id=old.id)
    kept = one_task(python_job(org, "fresh", "chatty"))
    task_execute(task_id=kept.id)
    # The old task no longer built a current partition: its file was replaced since.
    Task.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=400))
    PartitionVersion.objects.filter(dataset="acme.old").delete()
    assert record_log_path(TASKS, old.id).exists()
    result = retention_prune()
    assert result["tasks"] >= 1 and not Task.objects.filter(pk=old.pk).exists()
    assert not record_log_path(TASKS, old.id).exists()
    assert record_log_path(TASKS, kept.id).exists()


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_process_keeps_the_lines(tmp_path):
    """django-q2's worker processes run Django's settings, so its logging config with them."""
    url = (tmp_path / "shared-lake").as_uri()
    with override_settings(STORAGE_URL=url):
        org = OrgFactory(slug="acme")
        synthetic_source_job(platform_org_for_tests(), end_block=99, partition_size=100, activation="manual")
        source = Job.objects.get(name="chain")
        job_backfill(job=source, partition_keys=["blocks_00000000"])
        drain()
        task = one_task(python_job(org, "chatty", "chatty"))
        cluster = QCluster(lake_url=url, log_path=tmp_path / "qcluster.log")
        try:
            tasks_dispatch()
            wait_for(
                lambda: Task.objects.filter(pk=task.pk, status="succeeded").exists(),
                timeout=90,
                every=0.3,
                what="the task to run on the cluster",
            )
        finally:
            cluster.stop()
    lines = record_log_read(TASKS, task.id)
    assert "operator read 100 rows" in [line["message"] for line in lines]
    assert {line["ts"] for line in lines}  # written by the worker, with times
