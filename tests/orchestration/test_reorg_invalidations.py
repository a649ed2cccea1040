"""Reorg invalidations are exact, through the engine, on a local chain served over HTTP: recorded
once per dataset, covering what the orphaned branch held, noticed for a branch as long as the old
one; a partition-width change retires the old layout; seeding the demo keeps admin edits."""

import pytest
from django.core.management import call_command

from chains.schema import partition_key
from orchestration.models import Job
from orchestration.services import job_update
from orgs.models import platform_org
from testkit.factories import sql_job
from testkit.testchain import LocalTestChain
from tests.orchestration.test_evm_rpc import chain_transfers, dataset, downstream_jobs, ingest, source_job
from versioning.models import DataInvalidation, PartitionVersion
from versioning.selectors import invalidation_covered_partitions
from versioning.services import catalog_verify

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def demo_callables(settings, monkeypatch):
    settings.PYTHON_CALLABLE_MODULES = [*settings.PYTHON_CALLABLE_MODULES, "chains.demo"]
    monkeypatch.delenv("CHAINLAKE_EVM_RPC_URL", raising=False)
    # The test chain serves on 127.0.0.1, which the outbound policy refuses unless allow-listed.
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]


@pytest.fixture
def chain():
    with LocalTestChain(seed=23) as local_chain:
        local_chain.deploy_token()
        yield local_chain


def transfers_job():
    from orchestration.services import job_create

    return job_create(
        org=platform_org(),
        name="transfers",
        operator="python",
        runtime="python",
        activation="reactive",
        source={"callable": "chains.demo:transfers_from_logs"},
        input_datasets=["evm.logs"],
        output_datasets=["evm.transfers"],
    )


def transfer_rows() -> list[tuple]:
    table = dataset("evm.transfers")
    return sorted(
        zip(
            table["block_number"].to_pylist(),
            table["from_address"].to_pylist(),
            table["to_address"].to_pylist(),
            [int(v) for v in table["value"].to_pylist()],
            strict=True,
        )
    )


def reorg_events(name: str) -> list[DataInvalidation]:
    return list(DataInvalidation.objects.filter(dataset=name, source_event__type="reorg"))


def propagated_from_reorg(name: str) -> list[DataInvalidation]:
    return list(DataInvalidation.objects.filter(dataset=name, source_event__origin__type="reorg"))


def test_a_dataset_nobody_reads_gets_each_reorg_once(chain, run_tasks):
    # evm.transfers has no consumer: each propagated invalidation of it closes at once, and the
    # reorg is rewritten by one task per partition (batch size 1), each of which propagates.
    # evm.log_blocks hears of the same reorg through two inputs.
    for _ in range(13):
        chain.mine(chain.random_transfers(2))
    job = source_job(chain, max_reorg_depth=10)
    transfers_job()
    sql_job(
        platform_org(),
        "log_blocks",
        "SELECT l.block_number, l.log_index, b.block_hash "
        "FROM evm.logs l JOIN evm.blocks b USING (block_number)",
        ["evm.blocks", "evm.logs"],
        "evm.log_blocks",
    )
    ingest(job, run_tasks)
    fork_point = chain.head - 8
    chain.reorg(8, new_branch_length=9)  # replaces blocks across two partitions of width 5
    ingest(job, run_tasks)

    (reorg,) = reorg_events("evm.logs")
    assert reorg.source_event["from_block"] == fork_point + 1
    propagated = propagated_from_reorg("evm.transfers")
    assert len(propagated) == 1
    (event,) = propagated
    assert event.scope == "rows" and event.processed_at is not None
    assert event.source_event["invalidation"] == str(reorg.id)
    assert event.source_event["origin"]["old_hashes"] == reorg.source_event["old_hashes"]
    assert transfer_rows() == chain_transfers(chain)
    (joined,) = propagated_from_reorg("evm.log_blocks")
    assert joined.row_filter == {"block_number": {"gte": fork_point + 1}}


def test_rows_the_orphaned_branch_held_are_covered_and_propagated(chain, run_tasks):
    chain.mine_random_blocks(3)
    orphaned = chain.mine(chain.random_transfers(2))  # two transfers in the block that will go
    job = source_job(chain)
    downstream_jobs(chain)
    ingest(job, run_tasks)
    assert orphaned in {row[0] for row in transfer_rows()}

    chain.reorg(1, new_branch_length=2, max_transfers_per_block=0)  # the new branch: no transfers
    ingest(job, run_tasks)

    (reorg,) = reorg_events("evm.logs")
    key = partition_key(orphaned, 5)
    # The new evm.logs partition has no log at or above the fork; the replaced one had two.
    assert invalidation_covered_partitions(invalidation=reorg) == [key]
    (propagated,) = propagated_from_reorg("evm.transfers")
    assert propagated.row_filter == {"block_number": {"gte": orphaned}}
    assert invalidation_covered_partitions(invalidation=propagated) == [key]
    # ... and on down to the daily stats, as a partition invalidation of its one partition.
    assert [(i.scope, i.partition_key) for i in propagated_from_reorg("evm.daily_transfer_stats")] == [
        ("partition", "all")
    ]
    assert orphaned not in {row[0] for row in transfer_rows()}
    assert transfer_rows() == chain_transfers(chain)


def test_a_new_branch_as_long_as_the_old_one_is_noticed_without_a_higher_block(chain, run_tasks):
    chain.mine_random_blocks(8)
    job = source_job(chain)
    downstream_jobs(chain)
    ingest(job, run_tasks)
    head = chain.head
    chain.reorg(2, new_branch_length=2)
    assert chain.head == head

    ingest(job, run_tasks)

    assert dataset("evm.blocks")["block_hash"].to_pylist() == [chain.block_hash(n) for n in range(head + 1)]
    (reorg,) = reorg_events("evm.blocks")
    assert reorg.source_event["from_block"] == head - 1
    assert reorg.source_event["new_hashes"] == [chain.block_hash(head - 1), chain.block_hash(head)]
    assert transfer_rows() == chain_transfers(chain)
    ingest(job, run_tasks)  # nothing new, nothing forked: nothing recorded again
    assert len(reorg_events("evm.blocks")) == 1


def test_a_partition_width_change_retires_the_old_layout_down_the_dag(chain, run_tasks):
    for _ in range(17):
        chain.mine(chain.random_transfers(1))
    job = source_job(chain)  # width 5
    downstream_jobs(chain)
    ingest(job, run_tasks)
    head = chain.head

    job = job_update(job=job, source={**job.source, "partition_width": 10})
    ingest(job, run_tasks)

    expected = {partition_key(n, 10) for n in range(0, head + 1, 10)}
    for name in ("evm.blocks", "evm.transactions", "evm.logs", "evm.transfers"):
        assert set(PartitionVersion.objects.filter(dataset=name).values_list("partition_key", flat=True)) == (
            expected
        ), name
    assert dataset("evm.blocks")["block_number"].to_pylist() == list(range(head + 1))
    assert transfer_rows() == chain_transfers(chain)
    assert sum(dataset("evm.daily_transfer_stats")["transfers"].to_pylist()) == len(chain_transfers(chain))
    assert catalog_verify() == []


def test_seeding_the_demo_again_keeps_admin_edits():
    call_command("seed_demo_pipeline", quiet=True)
    daily = Job.objects.get(name="evm_daily_transfer_stats")
    job_update(job=daily, scaling={"max_concurrency": 1}, activation="manual")
    source = Job.objects.get(name="ingest_evm")
    job_update(job=source, config={**source.config, "end_block": 999})

    call_command("seed_demo_pipeline", quiet=True)

    daily.refresh_from_db()
    source.refresh_from_db()
    assert (daily.scaling, daily.activation) == ({"max_concurrency": 1}, "manual")
    assert source.config["end_block"] == 999
    assert Job.objects.count() == 8
