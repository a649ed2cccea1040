"""The query service's sync path: results, parameters, row limit, cache, tenancy."""

import pytest

from queries.models import QueryResult
from queries.services import QueryRefused, query_execute
from tests.queries.conftest import blocks_table, publish
from versioning.storage import result_store


def run(user, sql, **kwargs):
    return query_execute(user=user, sql=sql, **kwargs)


def test_sync_query_succeeds_with_its_file_written_and_counted(analyst, evm_blocks):
    result = run(analyst, "SELECT block_number, gas_used FROM evm.blocks WHERE block_number < 10")
    assert result.status == "succeeded", result.error_message
    assert result.row_count == 10
    assert result.bytes > 0
    assert result_store().read_table(result.output_location).num_rows == 10
    assert result.duration_ms is not None


def test_system_datasets_read_and_other_orgs_unknown(analyst, other_analyst, evm_blocks):
    publish("beta.private", "all", blocks_table(0, 3))
    assert run(other_analyst, "SELECT count(*) FROM beta.private").status == "succeeded"
    with pytest.raises(QueryRefused) as refused:
        run(analyst, "SELECT count(*) FROM beta.private")
    with pytest.raises(QueryRefused) as missing:
        run(analyst, "SELECT count(*) FROM beta.nothing_here")
    assert refused.value.code == missing.value.code == "unknown_dataset"
    # The messages differ only by the name: nothing says one of them exists.
    assert refused.value.errors["sql"].replace("private", "X") == missing.value.errors["sql"].replace(
        "nothing_here", "X"
    )
    assert not QueryResult.objects.filter(user=analyst).exists()


def test_parameters_are_bound_and_typed(analyst, evm_blocks):
    result = run(
        analyst, "SELECT count(*) AS n FROM evm.blocks WHERE block_number >= $low", parameters={"low": 150}
    )
    assert result.status == "succeeded"
    assert result_store().read_table(result.output_location)["n"].to_pylist() == [50]


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        ({}, "parameters.low"),
        ({"low": 1, "extra": 2}, "parameters.extra"),
        ({"low": {"type": "bigint", "value": "1"}}, "parameters.low"),
        ({"low": {"type": "date", "value": "not a date"}}, "parameters.low"),
        ({"low": [1, 2]}, "parameters.low"),
    ],
)
def test_bad_parameters_are_field_errors(analyst, evm_blocks, parameters, field):
    with pytest.raises(QueryRefused) as refused:
        run(analyst, "SELECT * FROM evm.blocks WHERE block_number >= $low", parameters=parameters)
    assert field in refused.value.errors


def test_injection_through_a_parameter_is_only_a_value(analyst, evm_blocks):
    payload = "0; DROP TABLE evm.blocks; SELECT * FROM read_csv('/etc/passwd') --"
    result = run(analyst, "SELECT $v AS v, count(*) AS n FROM evm.blocks", parameters={"v": payload})
    assert result.status == "succeeded"
    table = result_store().read_table(result.output_location)
    assert table["v"].to_pylist() == [payload]
    assert table["n"].to_pylist() == [200]


def test_string_parameter_compared_to_a_number_fails_cleanly(analyst, evm_blocks):
    result = run(analyst, "SELECT * FROM evm.blocks WHERE block_number >= $low", parameters={"low": "abc"})
    assert result.status == "failed"
    assert result.error_code == "syntax_error"


def test_sync_row_limit(analyst, evm_blocks):
    analyst.org.settings = {"query_max_sync_rows": 50}
    analyst.org.save()
    result = run(analyst, "SELECT * FROM evm.blocks")
    assert (result.status, result.error_code) == ("failed", "row_limit")
    assert run(analyst, "SELECT * FROM evm.blocks LIMIT 50").status == "succeeded"


def test_cache_reuses_until_a_new_partition_version(analyst, evm_blocks):
    sql = "SELECT count(*) AS n FROM evm.blocks"
    first = run(analyst, sql)
    second = run(analyst, "select   COUNT(*) as n   from evm.blocks -- same query")
    assert second.status == "succeeded"
    assert second.output_location == first.output_location
    assert second.sql_hash == first.sql_hash
    publish("evm.blocks", "blocks_00000200", blocks_table(200, 5))
    third = run(analyst, sql)
    assert third.output_location != first.output_location
    assert result_store().read_table(third.output_location)["n"].to_pylist() == [205]
    forced = run(analyst, sql, force=True)
    assert forced.output_location != third.output_location
    assert run(analyst, sql, max_age=0).output_location not in {third.output_location, forced.output_location}


def test_memory_limit(analyst, evm_blocks):
    analyst.org.settings = {"query_memory_limit_mb": 64, "query_temp_space_mb": 0}
    analyst.org.save()
    result = run(
        analyst,
        "SELECT list(repeat('x', 1000) || i::VARCHAR) AS big FROM range(2000000) t(i)",
        mode="scheduled",
    )
    assert (result.status, result.error_code) == ("failed", "memory_limit"), result.error_message


def test_timeout_interrupts(analyst, evm_blocks):
    analyst.org.settings = {"query_timeout_seconds": 1}
    analyst.org.save()
    result = run(analyst, "SELECT count(*) FROM range(100000000000) a", mode="scheduled")
    assert (result.status, result.error_code) == ("failed", "timeout")
    assert result.duration_ms < 10_000
