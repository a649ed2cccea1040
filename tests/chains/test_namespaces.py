"""Source jobs write one chain's namespace: any system namespace the job's org may write, never two
at once, and the kinds a source writes only."""

import pytest
from django.core.exceptions import ValidationError

from chains.ingest import merge_partition, split_into_partitions
from chains.operators.synthetic_chain import generate
from chains.schema import LOGS, kind_of
from orchestration.services import job_create
from orgs.models import platform_org
from testkit.factories import OrgFactory

pytestmark = pytest.mark.django_db

RPC = {"url": "http://127.0.0.1:8545", "chain_id": 8453}


def rpc_job(outputs: list[str], org=None):
    return job_create(
        org=org or platform_org(),
        name="chain",
        operator="evm_rpc",
        runtime="source",
        execution_strategy="incremental",
        source=RPC,
        output_datasets=outputs,
    )


def synthetic_job(outputs: list[str]):
    return job_create(
        org=platform_org(),
        name="synthetic",
        operator="synthetic_chain",
        runtime="source",
        config={"end_block": 9, "chain_id": 8453},
        output_datasets=outputs,
    )


def output_error(make) -> str:
    with pytest.raises(ValidationError) as caught:
        make()
    return " ".join(caught.value.message_dict["output_datasets"])


def test_a_source_writes_any_one_system_namespace():
    assert rpc_job(["base.blocks", "base.logs"]).output_datasets == ["base.blocks", "base.logs"]
    assert synthetic_job(["base.transactions"]).output_datasets == ["base.transactions"]


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        (["evm.blocks", "base.logs"], "evm_rpc writes one chain's namespace, not base, evm"),
        (["base.logs"], "evm_rpc writes base.blocks"),
        (["base.blocks", "base.receipts"], "not base.receipts"),
    ],
)
def test_outputs_outside_one_namespace_are_refused_with_the_field_named(outputs, message):
    assert message in output_error(lambda: rpc_job(outputs))


def test_the_synthetic_chain_also_keeps_to_one_namespace():
    assert "synthetic_chain writes one chain's namespace" in output_error(
        lambda: synthetic_job(["evm.blocks", "base.blocks"])
    )


def test_a_namespace_the_org_may_not_write_is_refused():
    org = OrgFactory(slug="acme")
    assert "this org writes only the namespaces acme" in output_error(
        lambda: rpc_job(["base.blocks"], org=org)
    )


def test_ingestion_writes_go_to_the_namespace_asked_and_merge_by_kind():
    tables = generate({"end_block": 9, "layout": "evm", "chain_id": 8453}, "blocks_00000000")
    logs = tables[LOGS]
    (write,) = split_into_partitions({"base.logs": logs}, first_block=0, last_block=9, partition_width=10)
    assert (write.dataset, kind_of(write.dataset)) == ("base.logs", "logs")
    merged = merge_partition(None, write)
    assert merged.num_rows == logs.num_rows and set(merged["chain_id"].to_pylist()) == {8453}
