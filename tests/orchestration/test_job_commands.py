"""Jobs are named org/name everywhere; dag, plan, run_job and backfill say what they did or why not."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from orchestration.models import Task
from orchestration.selectors.idle import failed_without_output, why_nothing_planned
from testkit.factories import (
    OrgFactory,
    PartitionVersionFactory,
    TaskFactory,
    UserFactory,
    sql_job,
    synthetic_source_job,
)


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def jobs(db):
    demo = OrgFactory(slug="demo")
    source = synthetic_source_job(end_block=299, partition_size=100, activation="manual")
    copy = sql_job(demo, "copy", "SELECT * FROM evm.blocks", ["evm.blocks"], "demo.copy", dag_name="mine")
    return source, copy


def test_a_job_is_named_org_slash_name(jobs):
    source, copy = jobs
    assert str(copy) == "demo/copy" and str(source) == f"{source.org.slug}/chain"
    assert f"{source} -> evm.blocks -> demo/copy" in run("dag")
    out = run("run_job", "--job", "demo/copy")
    assert "0 tasks created for demo/copy: it is waiting for inputs not yet published: evm.blocks" in out


def test_dag_filters_by_org_across_org_edges_and_refuses_unknown_names(jobs):
    source, _ = jobs
    assert f"{source} -> evm.blocks -> demo/copy" in run("dag", "--org", "demo")
    assert f"{source} -> evm.blocks -> demo/copy" in run("dag", "--dag", "mine")
    with pytest.raises(CommandError, match="no DAG 'nope'"):
        run("dag", "--dag", "nope")
    with pytest.raises(CommandError, match="no org 'nope'"):
        run("dag", "--org", "nope")


def test_plan_says_why_it_created_nothing(jobs):
    _, copy = jobs
    assert "0 tasks created" in (out := run("plan", "--job", "demo/copy", "--no-dispatch"))
    assert "waiting for inputs not yet published" in out
    copy.active = False
    copy.save(update_fields=["active"])
    assert "it is paused" in run("plan", "--job", "demo/copy", "--no-dispatch")
    everything = run("plan", "--no-dispatch")
    assert "nothing stale" in everything and "1 manual" in everything and "1 paused" in everything


def test_run_job_runs_a_source_and_an_incremental_job(jobs):
    source, _ = jobs
    assert "3 tasks created" in run("run_job", "--job", f"{source.org.slug}/chain")
    demo = OrgFactory(slug="demo")
    incremental = sql_job(
        demo,
        "inc",
        "SELECT * FROM evm.blocks",
        ["evm.blocks"],
        "demo.inc",
        execution_strategy="incremental",
        config={"cursor_column": "block_number", "partition_by": "'all'"},
    )
    assert "1 task created for demo/inc" in run("run_job", "--job", "demo/inc")
    assert "0 tasks created" in (again := run("run_job", "--job", "demo/inc"))
    assert "one task at a time" in again
    incremental.active = False
    incremental.save(update_fields=["active"])
    with pytest.raises(CommandError, match="paused"):
        run("run_job", "--job", "demo/inc")


def test_the_api_runs_a_job_now(jobs):
    _, copy = jobs
    client = APIClient()
    client.force_authenticate(UserFactory(org=copy.org, role="admin"))
    demo = copy.org
    incremental = sql_job(
        demo,
        "inc",
        "SELECT * FROM evm.blocks",
        ["evm.blocks"],
        "demo.inc",
        execution_strategy="incremental",
        config={"cursor_column": "block_number", "partition_by": "'all'"},
    )
    response = client.post(f"/api/v1/jobs/{incremental.pk}/run/", {}, format="json")
    assert response.status_code == 200 and response.json() == {"created": 1}
    assert Task.objects.filter(job=incremental).count() == 1


def test_backfill_without_a_range_needs_all(jobs):
    source, _ = jobs
    with pytest.raises(CommandError, match="--all"):
        run("backfill", "--job", f"{source.org.slug}/chain", "--no-dispatch")
    assert not Task.objects.filter(job=source).exists()
    assert "3 tasks over 3 partitions" in run(
        "backfill", "--job", f"{source.org.slug}/chain", "--all", "--no-dispatch"
    )


def test_why_nothing_was_planned_names_failed_partitions_that_have_no_output(jobs):
    source, _ = jobs
    run("plan", "--job", f"{source.org.slug}/chain", "--no-dispatch")
    tasks = Task.objects.filter(job=source)
    tasks.update(status=Task.Status.FAILED, error_message="node down")
    reason = why_nothing_planned(source)
    assert (
        "3 partitions failed with no output after their retries ran out" in reason
        and "blocks_00000000" in reason
    )
    assert "up to date" not in reason
    # A newer task that succeeded for a partition takes it off the list.
    TaskFactory(job=source, status=Task.Status.SUCCEEDED, partitions=["blocks_00000000"])
    PartitionVersionFactory(dataset="evm.blocks", partition_key="blocks_00000000")
    assert failed_without_output(source) == ["blocks_00000100", "blocks_00000200"]
