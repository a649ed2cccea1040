"""When "Run now" creates no task, the admin, the API and ``run_job`` all say why, per job, in the
same words: paused, already running, waiting for inputs, failed with no output, or up to date."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from orchestration.models import Job, Task
from orchestration.selectors.idle import nothing_planned_reason
from orchestration.services import job_create, job_plan
from testkit.factories import OrgFactory, TaskFactory, UserFactory, sql_job, synthetic_source_job

REASONS = {
    "up_to_date": "every partition is up to date; use Rebuild to recompute and republish them anyway",
    "already_running": "it is already running or queued (1 live task)",
    "waiting_for_inputs": "it is waiting for inputs not yet published: evm.blocks",
    "failed_without_output": "2 partitions failed with no output after their retries ran out "
    "(blocks_00000000, blocks_00000100)",
}


@pytest.fixture
def org(db):
    return OrgFactory(slug="acme")


def copy_job(org, **fields) -> Job:
    return sql_job(org, "copy", "SELECT block_number FROM evm.blocks", ["evm.blocks"], "acme.copy", **fields)


def built_chain(run_tasks) -> Job:
    source = synthetic_source_job(end_block=199, partition_size=100)
    job_plan(job=source)
    run_tasks()
    return source


def prepare(reason: str, org, run_tasks) -> Job:
    """A job in the state where run now creates nothing for ``reason`` (planned with no commit
    margin: the margin would have failed partitions planned again for a minute)."""
    if reason == "waiting_for_inputs":
        synthetic_source_job(end_block=199, partition_size=100, activation="manual")  # never run
        return copy_job(org)
    if reason == "failed_without_output":
        failing = job_create(
            org=org,
            name="copy",
            runtime="python",
            operator="python",
            source={"callable": "tests.orchestration.test_execution:always_fails"},
            input_datasets=["evm.blocks"],
            output_datasets=["acme.copy"],
            activation="reactive",
            max_attempts=1,
        )
        built_chain(run_tasks)
        assert set(failing.tasks.values_list("status", flat=True)) == {"failed"}
        return failing
    job = copy_job(org)
    built_chain(run_tasks)
    if reason == "already_running":
        TaskFactory(job=job, status="running", partitions=["blocks_00000000"])
    return job


def through_admin(job: Job) -> str:
    client = Client()
    client.force_login(UserFactory(org=job.org, role="admin", is_staff=True))
    changelist = reverse("admin:orchestration_job_changelist")
    data = {"action": "run_now", "_selected_action": [str(job.pk)], "index": "0"}
    return client.post(changelist, data, follow=True).content.decode()


def through_api(job: Job) -> dict:
    client = APIClient()
    client.force_authenticate(UserFactory(org=job.org, role="admin"))
    response = client.post(f"/api/v1/jobs/{job.pk}/run/", format="json")
    assert response.status_code == 200, response.content
    return response.json()


def through_command(job: Job) -> str:
    out = StringIO()
    call_command("run_job", "--job", str(job), stdout=out)
    return out.getvalue()


@pytest.mark.parametrize("reason", list(REASONS))
def test_each_reason_is_given_by_the_selector_the_admin_the_api_and_run_job(reason, org, run_tasks, settings):
    settings.PLANNER_COMMIT_MARGIN_SECONDS = 0
    job = prepare(reason, org, run_tasks)
    found = nothing_planned_reason(job)
    assert (found.code, REASONS[reason] in found.detail) == (reason, True), found
    live_before = Task.objects.filter(job=job, status__in=Task.LIVE_STATUSES).count()

    page = through_admin(job)
    assert "0 tasks created" in page
    assert f"acme/copy: nothing to run: {REASONS[reason]}" in page.replace("&#x27;", "'")
    assert through_api(job) == {"created": 0, "reason": found.detail, "reason_code": reason}
    assert f"0 tasks created for acme/copy: {REASONS[reason]}" in through_command(job)
    assert Task.objects.filter(job=job, status__in=Task.LIVE_STATUSES).count() == live_before


def test_a_job_that_runs_says_nothing_more(org, run_tasks):
    built_chain(run_tasks)
    job = copy_job(org, activation="manual")
    page = through_admin(job)
    assert "2 tasks created" in page and "nothing to run" not in page


def test_a_paused_job_says_it_is_paused_everywhere(org, run_tasks):
    job = copy_job(org)
    Job.objects.filter(pk=job.pk).update(active=False)
    job.refresh_from_db()
    assert nothing_planned_reason(job).code == "paused"
    assert "acme/copy: nothing to run: it is paused: resume it first" in through_admin(job)
    client = APIClient()
    client.force_authenticate(UserFactory(org=org, role="admin"))
    response = client.post(f"/api/v1/jobs/{job.pk}/run/", format="json")
    assert response.status_code == 409 and "paused" in response.json()["errors"][0]["detail"]
    with pytest.raises(CommandError, match="acme/copy is paused; resume it first"):
        through_command(job)


def test_the_admin_explains_each_job_of_a_selection(org, run_tasks):
    fresh = copy_job(org)
    built_chain(run_tasks)
    paused = sql_job(org, "idle", "SELECT block_number FROM evm.blocks", ["evm.blocks"], "acme.idle")
    Job.objects.filter(pk=paused.pk).update(active=False)
    client = Client()
    client.force_login(UserFactory(org=org, role="admin", is_staff=True))
    data = {"action": "run_now", "_selected_action": [str(fresh.pk), str(paused.pk)], "index": "0"}
    page = client.post(reverse("admin:orchestration_job_changelist"), data, follow=True).content.decode()
    assert "acme/copy: nothing to run: every partition is up to date" in page
    assert "acme/idle: nothing to run: it is paused" in page
