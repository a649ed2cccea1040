"""Management commands: thin wrappers with one-line errors."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from orchestration.models import Task
from testkit.factories import OrgFactory, sql_job, synthetic_source_job


@pytest.fixture
def jobs(db):
    org = OrgFactory(slug="acme")
    source = synthetic_source_job(end_block=299, partition_size=100, activation="manual")
    derived = sql_job(org, "copy", "SELECT * FROM evm.blocks", ["evm.blocks"], "acme.copy")
    return source, derived


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_plan_one_job_creates_tasks(jobs):
    source, _ = jobs
    assert "3 tasks created" in run("plan", "--job", f"{source.org.slug}/{source.name}", "--no-dispatch")
    assert Task.objects.filter(job=source, status="pending").count() == 3


def test_backfill_range_and_bad_input(jobs):
    source, _ = jobs
    out = run("backfill", "--job", str(source.id), "--from", "blocks_00000100", "--no-dispatch")
    assert "2 tasks over 2 partitions" in out
    with pytest.raises(CommandError, match="no job"):
        run("backfill", "--job", "acme/nope")
    with pytest.raises(CommandError, match="is after"):
        run("backfill", "--job", str(source.id), "--from", "b", "--to", "a")
    assert Task.objects.filter(job=source).count() == 2


def test_dag_and_reap(jobs):
    assert "evm.blocks -> " in run("dag")
    assert "0 tasks reaped" in run("reap")
    with pytest.raises(CommandError, match="no org"):
        run("dag", "--org", "missing")
