"""Job services: validation, config_hash, DAG edges and cycles, lineage."""

import pytest
from django.core.exceptions import ValidationError

from orchestration.models import ColumnLineage
from orchestration.services import job_create, job_update, parse_duration
from testkit.factories import OrgFactory, platform_org_for_tests, sql_job, synthetic_source_job


@pytest.fixture
def org(db):
    return OrgFactory(slug="acme")


def errors_of(excinfo) -> dict:
    return excinfo.value.message_dict


def test_sql_job_gets_config_hash_and_direct_lineage(org):
    job = sql_job(
        org,
        "tx_per_block",
        "SELECT b.block_number, count(t.tx_hash) AS txs, max(b.miner) AS miner "
        "FROM evm.blocks b LEFT JOIN evm.transactions t ON t.block_number = b.block_number GROUP BY 1",
        ["evm.blocks", "evm.transactions"],
        "acme.tx_per_block",
    )
    assert len(job.config_hash) == 64
    edges = set(
        ColumnLineage.objects.filter(job=job).values_list("output_column", "input_dataset", "input_column")
    )
    assert edges == {
        ("block_number", "evm.blocks", "block_number"),
        ("txs", "evm.transactions", "tx_hash"),
        ("miner", "evm.blocks", "miner"),
    }


def test_config_hash_changes_with_sql_only(org):
    job = sql_job(org, "j", "SELECT block_number FROM evm.blocks", ["evm.blocks"], "acme.out")
    first = job.config_hash
    job_update(job=job, scaling={"max_concurrency": 2})
    assert job.config_hash == first
    job_update(job=job, source={"sql": "SELECT block_number, miner FROM evm.blocks"})
    assert job.config_hash != first


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"source": {"sql": "DELETE FROM evm.blocks"}}, "source"),
        ({"source": {"sql": "SELEC 1"}}, "source"),
        ({"source": {"sql": "SELECT * FROM evm.logs"}}, "source"),
        ({"output_datasets": ["other.out"]}, "output_datasets"),
        ({"input_datasets": ["other.in"]}, "input_datasets"),
        ({"operator": "nope"}, "operator"),
        ({"update_strategy": "upsert"}, "unique_key"),
        ({"activation": "schedule", "config": {"schedule": "every tuesday"}}, "config"),
        ({"idle_timeout": "soon"}, "idle_timeout"),
        ({"scaling": {"max_concurrency": 0}}, "scaling"),
        ({"scaling": {"speed": 3}}, "scaling"),
        ({"activation": "sometimes"}, "activation"),
    ],
)
def test_bad_job_is_rejected_with_field_error_and_nothing_saved(org, fields, field):
    values = {
        "org": org,
        "name": "bad",
        "runtime": "sql",
        "operator": "duckdb_sql",
        "source": {"sql": "SELECT * FROM evm.blocks"},
        "input_datasets": ["evm.blocks"],
        "output_datasets": ["acme.out"],
    }
    values.update(fields)
    with pytest.raises(ValidationError) as excinfo:
        job_create(**values)
    assert field in errors_of(excinfo), errors_of(excinfo)
    assert not org.jobs.exists()


def test_cycle_is_rejected(org):
    sql_job(org, "a", "SELECT * FROM acme.c", ["acme.c"], "acme.a")
    sql_job(org, "b", "SELECT * FROM acme.a", ["acme.a"], "acme.b")
    with pytest.raises(ValidationError) as excinfo:
        sql_job(org, "c", "SELECT * FROM acme.b", ["acme.b"], "acme.c")
    assert "cycle" in errors_of(excinfo)["input_datasets"][0]


def test_second_active_producer_is_rejected(org):
    sql_job(org, "a", "SELECT * FROM evm.blocks", ["evm.blocks"], "acme.a")
    with pytest.raises(ValidationError) as excinfo:
        sql_job(org, "a2", "SELECT * FROM evm.blocks", ["evm.blocks"], "acme.a")
    assert "already produced" in errors_of(excinfo)["output_datasets"][0]


def test_only_platform_org_writes_system_namespace(org):
    with pytest.raises(ValidationError) as excinfo:
        synthetic_source_job(org)
    assert "output_datasets" in errors_of(excinfo)
    assert synthetic_source_job(platform_org_for_tests()).pk


def test_cron_and_idle_timeout_parse(org):
    job = sql_job(
        org,
        "s",
        "SELECT * FROM evm.blocks",
        ["evm.blocks"],
        "acme.s",
        activation="schedule",
        config={"schedule": "*/5 * * * *"},
        idle_timeout="1h30m",
    )
    assert job.activation == "schedule"
    assert parse_duration("1h30m").total_seconds() == 5400
    assert parse_duration("45s").total_seconds() == 45
    with pytest.raises(ValueError):
        parse_duration("")


def test_upsert_with_unique_key_is_accepted(org):
    job = sql_job(
        org,
        "u",
        "SELECT * FROM evm.blocks",
        ["evm.blocks"],
        "acme.u",
        update_strategy="upsert",
        unique_key=["block_number"],
    )
    assert job.unique_key == ["block_number"]


def test_python_job_may_only_name_allowed_modules(org):
    fields = {
        "org": org,
        "name": "p",
        "runtime": "python",
        "operator": "python",
        "input_datasets": ["evm.blocks"],
        "output_datasets": ["acme.p"],
    }
    with pytest.raises(ValidationError) as excinfo:
        job_create(source={"callable": "os:system"}, **fields)
    assert "not among the modules" in errors_of(excinfo)["source"][0]
    job = job_create(source={"callable": "tests.orchestration.slow:slow_copy"}, **fields)
    assert job.pk
