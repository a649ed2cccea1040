"""The job page, its actions, and the form that validates through the job services."""

import pytest
from django.urls import reverse

from orchestration.models import Job, Task
from orchestration.services import job_plan
from testkit.factories import OrgFactory, sql_job, synthetic_source_job
from tests.orchestration.test_lineage_rules import rendered_rows


@pytest.fixture
def jobs(db, run_tasks):
    org = OrgFactory(slug="acme")
    source = synthetic_source_job(end_block=199, partition_size=100)
    copy = sql_job(org, "copy", "SELECT block_number, miner FROM evm.blocks", ["evm.blocks"], "acme.copy")
    job_plan(job=source)
    run_tasks()
    return source, copy


def test_job_page_shows_neighbours_tasks_partitions_and_lineage(admin_client, jobs):
    source, copy = jobs
    page = admin_client.get(reverse("admin:orchestration_job_change", args=[copy.pk])).content.decode()
    assert str(source) in page  # upstream neighbour
    assert "blocks_00000100" in page  # partition owned
    assert "succeeded" in page  # recent task
    # The lineage table holds the edge itself, not merely the SQL text that mentions the column.
    lineage = rendered_rows(page, "Column lineage")
    assert ["evm.blocks", "miner", "acme.copy", "miner"] in lineage
    assert ["evm.blocks", "block_number", "acme.copy", "block_number"] in lineage
    for name in ("admin:orchestration_job_changelist", "admin:orchestration_task_changelist"):
        assert admin_client.get(reverse(name)).status_code == 200
    assert admin_client.get(reverse("admin:orchestration_job_backfill", args=[copy.pk])).status_code == 200


def test_admin_add_with_bad_sql_shows_the_field_error_and_saves_nothing(admin_client, jobs):
    _, copy = jobs
    data = {
        "org": copy.org_id,
        "name": "bad",
        "dag_name": "d",
        "active": "on",
        "activation": "manual",
        "runtime": "sql",
        "operator": "duckdb_sql",
        "source": '{"sql": "DROP TABLE evm.blocks"}',
        "config": "{}",
        "input_datasets": "evm.blocks",
        "output_datasets": "acme.bad",
        "execution_strategy": "partitioned",
        "update_strategy": "replace",
        "unique_key": "",
        "scaling": "{}",
        "timeout_seconds": 60,
        "heartbeat_timeout_seconds": 30,
        "max_attempts": 3,
    }
    response = admin_client.post(reverse("admin:orchestration_job_add"), data)
    assert response.status_code == 200
    assert "only SELECT" in response.content.decode()
    assert not Job.objects.filter(name="bad").exists()
    data["source"] = '{"sql": "SELECT block_number FROM evm.blocks"}'
    response = admin_client.post(reverse("admin:orchestration_job_add"), data)
    assert response.status_code == 302
    assert len(Job.objects.get(name="bad").config_hash) == 64


def test_backfill_pause_and_task_actions(admin_client, jobs):
    _, copy = jobs
    url = reverse("admin:orchestration_job_backfill", args=[copy.pk])
    before = Task.objects.filter(job=copy).count()
    refused = admin_client.post(url, {"first": "z", "last": "a"})
    assert refused.status_code == 200
    assert "the range ends before it starts" in refused.content.decode()
    assert Task.objects.filter(job=copy).count() == before
    unasked = admin_client.post(url, {})
    assert "give a range, partition keys, or tick every partition" in unasked.content.decode()
    assert Task.objects.filter(job=copy).count() == before
    assert admin_client.post(url, {"first": "blocks_00000000", "last": "blocks_00000100"}).status_code == 302
    assert Task.objects.filter(job=copy).count() == before + 2
    changelist = reverse("admin:orchestration_job_changelist")
    admin_client.post(changelist, {"action": "pause", "_selected_action": [copy.pk]})
    copy.refresh_from_db()
    assert not copy.active
    live = Task.objects.filter(job=copy, status__in=Task.LIVE_STATUSES)
    ids = [str(t.pk) for t in live]
    admin_client.post(
        reverse("admin:orchestration_task_changelist"), {"action": "cancel", "_selected_action": ids}
    )
    assert not Task.objects.filter(job=copy, status__in=Task.LIVE_STATUSES).exists()
    # Retried from a list filtered on "cancelled": the message counts the selection, not what the
    # filter matches once the tasks are pending again.
    retried = admin_client.post(
        reverse("admin:orchestration_task_changelist") + "?status__exact=cancelled",
        {"action": "retry", "_selected_action": ids},
        follow=True,
    )
    assert Task.objects.filter(job=copy, status="pending").count() == 2
    assert "2 of 2 selected tasks retried" in retried.content.decode()
