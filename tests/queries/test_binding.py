"""Binding datasets to DuckDB views: file and S3 lakes, pushdown, cost follows the query."""

import uuid

import duckdb
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from queries.binding import bind
from queries.services import query_execute
from tests.queries.conftest import blocks_table, publish
from tests.versioning.test_storage import s3_url  # noqa: F401 - the moto S3 server fixture
from versioning import duckdb_sandbox as sandbox
from versioning.storage import result_store


def explain(user, sql: str) -> str:
    statement = sandbox.parse_read_only(sql)
    binding = bind(user=user, tables=sandbox.referenced_tables(statement))
    con = sandbox.sandbox_session(sandbox.SandboxLimits(), allowed_directories=binding.allowed_directories())
    try:
        binding.setup(con)
        return "\n".join(row[1] for row in con.execute(f"EXPLAIN {binding.rewrite(statement)}").fetchall())
    finally:
        con.close()


def test_file_lake_views_push_projection_and_filter_into_the_parquet_scan(analyst, evm_blocks):
    plan = explain(analyst, "SELECT miner FROM evm.blocks WHERE block_number > 150")
    assert "READ_PARQUET" in plan
    assert "Projections: miner" in plan
    assert "block_number>150" in plan.replace(" ", "")


def test_s3_lake_binds_reads_and_pushes_down(analyst, settings, s3_url):  # noqa: F811
    settings.STORAGE_URL = f"{s3_url}/{uuid.uuid4().hex}"
    settings.RESULT_STORAGE_URL = f"{s3_url}/{uuid.uuid4().hex}/results"
    publish("evm.blocks", "blocks_00000000", blocks_table(0, 100))
    publish("evm.blocks", "blocks_00000100", blocks_table(100, 100))
    result = query_execute(
        user=analyst, sql="SELECT count(*) AS n, sum(gas_used) AS g FROM evm.blocks WHERE block_number >= 50"
    )
    assert result.status == "succeeded", result.error_message
    table = result_store().read_table(result.output_location)
    assert table.to_pylist() == [{"n": 150, "g": sum(n * 10 for n in range(50, 200))}]
    plan = explain(analyst, "SELECT miner FROM evm.blocks WHERE block_number > 150")
    assert "ARROW_SCAN" in plan
    assert "Projections: miner" in plan
    assert "block_number" in plan.split("Filters:")[1]


def test_binding_reads_only_what_the_query_names(analyst, evm_blocks):
    for index in range(30):
        publish(f"evm.other_{index}", "all", blocks_table(0, 1))
    with CaptureQueriesContext(connection) as queries:
        binding = bind(user=analyst, tables={"evm.blocks"})
    assert list(binding.datasets) == ["evm.blocks"]
    # One catalog query for what the statement names, one check that the personal-data registry
    # is current: neither grows with the catalog.
    assert len(queries) == 2
    assert not any("evm.other" in query["sql"] for query in queries)
    assert len(binding.datasets["evm.blocks"].locations) == 2


def test_only_current_partition_files_are_bound(analyst, evm_blocks):
    publish("evm.blocks", "blocks_00000000", blocks_table(0, 10))  # a new version replaces 100 rows
    result = query_execute(user=analyst, sql="SELECT count(*) AS n FROM evm.blocks")
    assert result_store().read_table(result.output_location)["n"].to_pylist() == [110]


def test_bindings_of_concurrent_queries_stay_apart_on_one_pooled_database(analyst, evm_blocks):
    statement = sandbox.parse_read_only("SELECT count(*) FROM evm.blocks")
    first = bind(user=analyst, tables={"evm.blocks"})
    second = bind(user=analyst, tables={"evm.blocks"})
    one = sandbox.sandbox_session(sandbox.SandboxLimits(), allowed_directories=first.allowed_directories())
    two = sandbox.sandbox_session(sandbox.SandboxLimits(), allowed_directories=second.allowed_directories())
    try:
        first.setup(one)
        assert one.execute(first.rewrite(statement)).fetchall() == [(200,)]
        with pytest.raises(duckdb.CatalogException):
            two.execute(first.rewrite(statement))  # another connection's TEMP view does not exist here
    finally:
        one.close()
        two.close()


def test_the_org_database_opens_only_files_of_namespaces_it_may_read(analyst, evm_blocks, settings):
    publish("beta.private", "all", blocks_table(0, 3))
    binding = bind(user=analyst, tables={"evm.blocks"})
    con = sandbox.sandbox_session(sandbox.SandboxLimits(), allowed_directories=binding.allowed_directories())
    lake_root = settings.STORAGE_URL[len("file://") :]
    try:
        own = next(iter(binding.datasets["evm.blocks"].locations))
        assert con.execute(f"SELECT count(*) FROM read_parquet('{lake_root}/{own}')").fetchall() == [(100,)]
        from versioning.models import PartitionVersion

        other = PartitionVersion.objects.get(dataset="beta.private").location
        with pytest.raises(duckdb.PermissionException):
            con.execute(f"SELECT * FROM read_parquet('{lake_root}/{other}')")
        with pytest.raises(duckdb.PermissionException):
            con.execute("SELECT * FROM read_csv('/etc/passwd')")
    finally:
        con.close()
