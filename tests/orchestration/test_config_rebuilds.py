"""A configuration change rebuilds every partition of a ``full`` job, of a ``partition_mapping:
"all"`` job and of a source job: nothing but the ``config_hash`` tells those outputs are stale (the
inputs did not change, and task_inputs say the old build read their current versions)."""

import pytest

from orchestration.services import job_plan, job_update
from testkit.factories import OrgFactory, sql_job, synthetic_source_job
from versioning.models import PartitionVersion
from versioning.storage import lake


def current(dataset: str) -> dict[str, PartitionVersion]:
    return {pv.partition_key: pv for pv in PartitionVersion.objects.filter(dataset=dataset)}


@pytest.fixture
def blocks(db, run_tasks):
    source = synthetic_source_job(end_block=299, partition_size=100)
    job_plan(job=source)
    run_tasks()
    return source


@pytest.mark.parametrize(
    "fields",
    [{"execution_strategy": "full"}, {"config": {"partition_mapping": "all"}}],
    ids=["full", "partition_mapping all"],
)
def test_a_whole_output_is_rebuilt_after_a_config_change(blocks, run_tasks, fields):
    job = sql_job(
        OrgFactory(slug="acme"),
        "totals",
        "SELECT count(*) AS blocks FROM evm.blocks",
        ["evm.blocks"],
        "acme.totals",
        **fields,
    )
    job_plan(job=job)
    run_tasks()
    before = current("acme.totals")["all"]
    assert job_plan(job=job).created == 0  # fresh: nothing to do

    job = job_update(job=job, source={"sql": "SELECT count(*) * 10 AS blocks FROM evm.blocks"})
    plan = job_plan(job=job)
    assert (plan.created, plan.partitions) == (1, ["all"])
    run_tasks()
    after = current("acme.totals")["all"]
    assert after.version > before.version and after.config_hash == job.config_hash != before.config_hash
    assert lake().read_table(after.location)["blocks"].to_pylist() == [3000]


def test_every_partition_of_a_source_is_rebuilt_after_a_config_change(blocks, run_tasks):
    before = current("evm.blocks")
    assert job_plan(job=blocks).created == 0

    source = job_update(job=blocks, config={**blocks.config, "seed": "another chain"})
    assert job_plan(job=source).partitions == sorted(before)
    run_tasks()
    after = current("evm.blocks")
    assert set(after) == set(before)
    for key, pv in after.items():
        assert pv.version > before[key].version and pv.config_hash == source.config_hash
        old, new = (lake().read_table(p.location)["block_hash"] for p in (before[key], pv))
        assert old != new  # built from the new configuration
