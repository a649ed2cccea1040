"""Two chains side by side through the registry and the engine, each a local test chain served over
HTTP: one chain's node going down leaves the other ingesting, and a reorg on one chain invalidates
that chain's datasets only."""

import pytest

from chains.registry import ChainEntry, registry_save
from orchestration.models import Job, Task
from orchestration.services import job_run_now, job_update, task_execute, tasks_dispatch
from testkit.lake import table_checksum
from testkit.testchain import LocalTestChain
from tests.orchestration.test_evm_rpc import chain_transfers, dataset
from versioning.models import DataInvalidation, DatasetCursor, PartitionVersion

pytestmark = pytest.mark.django_db

BASE_CHAIN_ID = 8453
KINDS = ("blocks", "transactions", "logs")


@pytest.fixture(autouse=True)
def demo_callables(settings):
    settings.PYTHON_CALLABLE_MODULES = [*settings.PYTHON_CALLABLE_MODULES, "chains.demo"]
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]  # the test chains serve on 127.0.0.1


@pytest.fixture
def chains():
    """Two independent chains; the second answers as chain 8453 (a chain id of its own, as the
    registry requires)."""
    with LocalTestChain(seed=31) as evm, LocalTestChain(seed=32) as base:
        base.reported_chain_id = BASE_CHAIN_ID
        for chain in (evm, base):
            chain.deploy_token()
        yield evm, base


def register(evm: LocalTestChain, base: LocalTestChain) -> tuple[Job, Job]:
    """Both chains in the registry (saving it makes the jobs); then, as staff may, one attempt per
    node request so an outage fails the attempt at once."""
    options = {"confirmations": 0, "partition_width": 5, "reorg_window": 6}
    registry_save(
        [
            ChainEntry(name="evm", chain_id=evm.chain_id, rpc_url=evm.url, **options),
            ChainEntry(name="base", chain_id=BASE_CHAIN_ID, rpc_url=base.url, **options),
        ]
    )
    jobs = []
    for name in ("ingest_evm", "ingest_base"):
        job = Job.objects.get(name=name)
        jobs.append(
            job_update(job=job, source={**job.source, "rpc_max_attempts": 1, "rpc_timeout_seconds": 5})
        )
    return jobs[0], jobs[1]


def transfers_jobs():
    """evm.transfers and base.transfers: the demo's decoding step on each chain's logs."""
    from orchestration.services import job_create
    from orgs.models import platform_org

    for namespace in ("evm", "base"):
        job_create(
            org=platform_org(),
            name=f"{namespace}_transfers",
            operator="python",
            runtime="python",
            activation="reactive",
            source={"callable": "chains.demo:transfers_from_logs"},
            input_datasets=[f"{namespace}.logs"],
            output_datasets=[f"{namespace}.transfers"],
        )


def run(job: Job) -> Task:
    """Run ``job`` once now (and what its writes make due downstream); its newest task."""
    from tests.orchestration.conftest import drain

    job_run_now(job=job)
    tasks_dispatch(enqueue=False)
    for task_id in Task.objects.filter(job=job, status="queued").values_list("id", flat=True):
        task_execute(task_id=task_id)
    drain()
    return Task.objects.filter(job=job).order_by("-created_at").first()


def cursor(namespace: str) -> int | None:
    value = DatasetCursor.objects.filter(dataset=f"{namespace}.blocks").values_list("cursor_value", flat=True)
    return None if not value or value[0] in (None, "") else int(value[0])


def partition_keys(dataset_name: str) -> set[str]:
    return set(PartitionVersion.objects.filter(dataset=dataset_name).values_list("partition_key", flat=True))


def checksums(namespace: str, kinds=KINDS) -> dict[str, str | None]:
    """Each dataset of the chain's namespace, row for row."""
    return {
        kind: (None if (t := dataset(f"{namespace}.{kind}")) is None else table_checksum(t)) for kind in kinds
    }


def rows_of(namespace: str, kind: str) -> list[tuple]:
    table = dataset(f"{namespace}.{kind}")
    return (
        []
        if table is None
        else sorted(zip(table["block_number"].to_pylist(), table["block_hash"].to_pylist(), strict=True))
    )


def test_one_chain_down_the_other_keeps_ingesting(chains):
    evm, base = chains
    evm_job, base_job = register(evm, base)
    evm.mine_random_blocks(4)
    base.mine_random_blocks(4)
    run(evm_job)
    run(base_job)
    assert (cursor("evm"), cursor("base")) == (evm.head, base.head)
    evm_head, evm_rows = evm.head, checksums("evm")

    evm.stop()  # the evm node goes away
    base.mine_random_blocks(8)
    failed = run(evm_job)
    base_task = run(base_job)

    assert failed.status == "pending" and failed.next_retry_at is not None  # retried later
    assert "NodeUnreachableError" in failed.error_message
    assert base_task.status == "succeeded"
    assert cursor("base") == base.head and cursor("evm") == evm_head
    assert partition_keys("base.blocks") == {f"blocks_{n:08d}" for n in range(0, base.head + 1, 5)}
    assert [n for n, _ in rows_of("base", "blocks")] == list(range(base.head + 1))
    assert checksums("evm") == evm_rows  # untouched
    assert set(dataset("base.blocks")["chain_id"].to_pylist()) == {BASE_CHAIN_ID}


def test_a_reorg_on_one_chain_invalidates_that_chains_datasets_only(chains):
    evm, base = chains
    evm_job, base_job = register(evm, base)
    transfers_jobs()
    for chain in (evm, base):
        for _ in range(8):
            chain.mine(chain.random_transfers(2))
    run(evm_job)
    run(base_job)
    evm_rows = checksums("evm", (*KINDS, "transfers"))

    fork_point = base.head - 3
    base.reorg(3, new_branch_length=4)
    run(base_job)
    run(evm_job)  # nothing new on evm

    reorgs = DataInvalidation.objects.filter(source_event__type="reorg")
    assert sorted(reorgs.values_list("dataset", flat=True)) == [
        "base.blocks",
        "base.logs",
        "base.transactions",
    ]
    assert {r.source_event["chain_id"] for r in reorgs} == {BASE_CHAIN_ID}
    assert {r.source_event["from_block"] for r in reorgs} == {fork_point + 1}
    assert not DataInvalidation.objects.filter(dataset__startswith="evm.").exists()
    assert checksums("evm", (*KINDS, "transfers")) == evm_rows
    assert [h for _, h in rows_of("base", "blocks")] == [base.block_hash(n) for n in range(base.head + 1)]
    transfers = dataset("base.transfers")
    assert sorted(
        zip(
            transfers["block_number"].to_pylist(),
            transfers["from_address"].to_pylist(),
            transfers["to_address"].to_pylist(),
            [int(v) for v in transfers["value"].to_pylist()],
            strict=True,
        )
    ) == chain_transfers(base)
