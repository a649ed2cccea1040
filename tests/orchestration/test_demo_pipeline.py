"""The demo pipeline `make run` seeds: idempotent, and it runs to completion on two synthetic chains
side by side, each in its own namespace, with a job reading both at once."""

import pyarrow as pa
import pytest
from django.core.management import call_command

from chains.demo import CROSS_CHAIN_DATASET, demo_labels
from chains.registry import chain_registry
from orchestration.models import Job
from orchestration.services import plan_active_jobs
from orgs.models import Org, platform_org
from testkit.factories import UserFactory
from versioning.models import PartitionVersion
from versioning.storage import lake

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def demo_callables(settings, monkeypatch):
    settings.PYTHON_CALLABLE_MODULES = ["chains.demo"]
    monkeypatch.delenv("CHAINLAKE_EVM_RPC_URL", raising=False)


def dataset(name: str) -> pa.Table:
    parts = PartitionVersion.objects.filter(dataset=name).order_by("partition_key")
    return pa.concat_tables([lake().read_table(p.location) for p in parts])


def test_the_demo_pipeline_seeds_once_and_runs_to_completion(run_tasks):
    UserFactory(org=platform_org(), is_superuser=True)
    call_command("seed_demo_pipeline", quiet=True)
    first = {job.id: job.config_hash for job in Job.objects.all()}
    call_command("seed_demo_pipeline", quiet=True)
    assert {job.id: job.config_hash for job in Job.objects.all()} == first
    assert len(first) == 8
    assert [(c.name, c.chain_id, c.synthetic) for c in chain_registry()] == [
        ("evm", 1, True),
        ("base", 8453, True),
    ]

    plan_active_jobs()
    run_tasks()
    blocks, transfers = dataset("evm.blocks"), dataset("evm.transfers")
    assert blocks.num_rows == 5000
    assert transfers.num_rows == dataset("evm.logs").num_rows > 0  # every synthetic log is a Transfer
    stats = dataset("evm.daily_transfer_stats")
    assert sum(stats["transfers"].to_pylist()) == transfers.num_rows
    tokens = dataset("evm.tokens")
    assert tokens["token_address"].to_pylist() == sorted(set(transfers["token_address"].to_pylist()))
    assert tokens.num_rows == 10 and tokens["error"].null_count == 10
    # The day's amount is the raw values scaled by the token's decimals.
    decimals = dict(zip(tokens["token_address"].to_pylist(), tokens["decimals"].to_pylist(), strict=True))
    first_day = stats.to_pylist()[0]
    raw = [
        int(value)
        for value, token, time in zip(
            transfers["value"].to_pylist(),
            transfers["token_address"].to_pylist(),
            transfers["block_timestamp"].to_pylist(),
            strict=True,
        )
        if token == first_day["token_address"] and time.date() == first_day["day"]
    ]
    assert first_day["amount"] == pytest.approx(sum(raw) / 10 ** decimals[first_day["token_address"]])
    assert first_day["symbol"].startswith("DEMO")
    assert set(decimals.values()) == {6, 8, 12, 18}
    labelled = dataset(f"{Org.objects.get(slug='demo').slug}.labelled_transfers")
    labels = dict(
        zip(labelled["token_address"].to_pylist(), labelled["token_address_label"].to_pylist(), strict=True)
    )
    assert {a: labels[a] for a in demo_labels()} == demo_labels()
    assert None in labels.values()  # unlabelled tokens stay null

    # The second chain: its own namespace, its own chain id on every row.
    base_blocks, base_transfers = dataset("base.blocks"), dataset("base.transfers")
    assert base_blocks.num_rows == 5000
    assert set(blocks["chain_id"].to_pylist()) == {1} and set(base_blocks["chain_id"].to_pylist()) == {8453}
    assert set(base_transfers["chain_id"].to_pylist()) == {8453}
    assert set(base_blocks["block_hash"].to_pylist()).isdisjoint(blocks["block_hash"].to_pylist())
    # ... and the job reading both chains at once.
    by_chain = dataset(CROSS_CHAIN_DATASET)
    totals: dict[int, int] = {}
    for chain_id, count in zip(
        by_chain["chain_id"].to_pylist(), by_chain["transfers"].to_pylist(), strict=True
    ):
        totals[chain_id] = totals.get(chain_id, 0) + count
    assert totals == {1: transfers.num_rows, 8453: base_transfers.num_rows}


def test_a_node_url_switches_the_source_to_evm_rpc(monkeypatch):
    call_command("seed_demo_pipeline", quiet=True)
    monkeypatch.setenv("CHAINLAKE_EVM_RPC_URL", "http://127.0.0.1:8545")
    call_command("seed_demo_pipeline", quiet=True)
    source = Job.objects.get(name="ingest_evm")
    assert (source.operator, source.source["url"], source.execution_strategy) == (
        "evm_rpc",
        "http://127.0.0.1:8545",
        "incremental",
    )
    assert Job.objects.get(name="ingest_base").operator == "synthetic_chain"  # the other chain stays
    assert Job.objects.count() == 8
    tokens = Job.objects.get(name="evm_tokens")  # the token metadata now comes from the node too
    assert (tokens.operator, tokens.source["url"]) == ("erc20_metadata", "http://127.0.0.1:8545")
