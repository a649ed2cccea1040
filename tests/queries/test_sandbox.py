"""The shared SQL sandbox: the escape list, the parse guard on its own, bounds, job SQL and
``config.partition_by``."""

import os

import duckdb
import pytest
from django.core.exceptions import ValidationError

from queries.models import QueryResult
from queries.services import QueryRefused, query_execute
from testkit.factories import sql_job
from versioning import duckdb_sandbox as sandbox

SECRET_FILE_CONTENT = "top secret line"


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "secret.csv"
    path.write_text(f"a\n{SECRET_FILE_CONTENT}\n")
    return str(path)


def escape_list(secret: str, out: str) -> list[tuple[str, str]]:
    """(SQL, expected code): every statement kind, file readers in every spelling, hidden second
    statements, environment and settings reads and writes."""
    return [
        (f"COPY (SELECT 1) TO '{out}'", "forbidden_statement"),
        (f"COPY evm.blocks TO '{out}' (FORMAT csv)", "forbidden_statement"),
        (f"ATTACH '{out}' AS other", "forbidden_statement"),
        ("DETACH other", "forbidden_statement"),
        ("INSTALL httpfs", "forbidden_statement"),
        ("LOAD httpfs", "forbidden_statement"),
        ("SET threads = 64", "forbidden_statement"),
        ("SET enable_external_access = true", "forbidden_statement"),
        ("RESET memory_limit", "forbidden_statement"),
        ("PRAGMA version", "forbidden_statement"),
        ("PRAGMA enable_profiling", "forbidden_statement"),
        (f"EXPORT DATABASE '{out}'", "forbidden_statement"),
        (f"IMPORT DATABASE '{out}'", "forbidden_statement"),
        ("CREATE MACRO m(a) AS a + 1", "forbidden_statement"),
        ("CREATE TABLE t AS SELECT 1", "forbidden_statement"),
        ("CREATE VIEW v AS SELECT 1", "forbidden_statement"),
        ("CREATE SECRET s (TYPE s3, KEY_ID 'x', SECRET 'y')", "forbidden_statement"),
        ("DROP VIEW evm.blocks", "forbidden_statement"),
        ("INSERT INTO evm.blocks VALUES (1)", "forbidden_statement"),
        ("UPDATE evm.blocks SET miner = 'x'", "forbidden_statement"),
        ("DELETE FROM evm.blocks", "forbidden_statement"),
        ("CALL pragma_version()", "forbidden_statement"),
        ("CHECKPOINT", "forbidden_statement"),
        ("SUMMARIZE evm.blocks", "forbidden_statement"),
        ("DESCRIBE evm.blocks", "forbidden_statement"),
        ("SHOW TABLES", "forbidden_statement"),
        ("USE evm", "forbidden_statement"),
        ("BEGIN TRANSACTION", "forbidden_statement"),
        ("PIVOT evm.blocks ON miner USING sum(gas_used)", "forbidden_statement"),
        ("SELECT 1 INTO t", "forbidden_statement"),
        (f"SELECT * FROM read_csv('{secret}')", "forbidden_statement"),
        (f"SELECT * FROM read_csv_auto('{secret}')", "forbidden_statement"),
        (f"SELECT * FROM READ_CSV_AUTO('{secret}')", "forbidden_statement"),
        (f"SELECT * FROM \"read_csv\"('{secret}')", "forbidden_statement"),
        (f"SELECT * FROM read_text('{secret}')", "forbidden_statement"),
        (f"SELECT * FROM read_blob('{secret}')", "forbidden_statement"),
        (f"SELECT * FROM read_json('{secret}')", "forbidden_statement"),
        (f"SELECT * FROM read_json_auto('{secret}')", "forbidden_statement"),
        (f"SELECT * FROM read_ndjson_objects('{secret}')", "forbidden_statement"),
        (f"SELECT * FROM read_parquet('{secret}')", "forbidden_statement"),
        (f"SELECT * FROM read_parquet(['{secret}'])", "forbidden_statement"),
        (f"SELECT * FROM parquet_scan('{secret}')", "forbidden_statement"),
        (f"SELECT * FROM parquet_metadata('{secret}')", "forbidden_statement"),
        (f"SELECT * FROM parquet_schema('{secret}')", "forbidden_statement"),
        (f"SELECT * FROM sniff_csv('{secret}')", "forbidden_statement"),
        (f"SELECT * FROM glob('{os.path.dirname(secret)}/*')", "forbidden_statement"),
        (f"SELECT * FROM '{secret}'", "forbidden_statement"),
        (f'SELECT * FROM "{secret}"', "forbidden_statement"),
        ("SELECT * FROM 's3://bucket/key.parquet'", "forbidden_statement"),
        ("SELECT * FROM 'https://example.com/x.csv'", "forbidden_statement"),
        (f"FROM '{secret}'", "forbidden_statement"),
        (f"SELECT * FROM evm.blocks, read_text('{secret}')", "forbidden_statement"),
        (f"SELECT (SELECT content FROM read_text('{secret}'))", "forbidden_statement"),
        (f"WITH x AS (SELECT * FROM read_csv('{secret}')) SELECT * FROM x", "forbidden_statement"),
        (f"SELECT 1 UNION ALL SELECT * FROM read_csv('{secret}')", "forbidden_statement"),
        ("SELECT * FROM query('SELECT 1')", "forbidden_statement"),
        ("SELECT * FROM query_table('evm.blocks')", "forbidden_statement"),
        ("SELECT getenv('HOME')", "forbidden_statement"),
        ("SELECT current_setting('memory_limit')", "forbidden_statement"),
        ("SELECT * FROM duckdb_settings()", "forbidden_statement"),
        ("SELECT * FROM duckdb_secrets()", "forbidden_statement"),
        ("SELECT * FROM duckdb_extensions()", "forbidden_statement"),
        ("SELECT * FROM pragma_database_list", "unknown_dataset"),
        ("SELECT * FROM information_schema.tables", "unknown_dataset"),
        ("SELECT * FROM __dataset_0", "unknown_dataset"),
        ("SELECT * FROM evm.blocks AT (VERSION => 1)", "forbidden_statement"),
        ("SELECT 1; SELECT 2", "forbidden_statement"),
        (f"SELECT 1; COPY (SELECT 1) TO '{out}'", "forbidden_statement"),
        (f"SELECT 1 /* hide */; ATTACH '{out}'", "forbidden_statement"),
        (f"SELECT 1 -- comment\n; ATTACH '{out}'", "forbidden_statement"),
        (f"SELECT 'a'';'; ATTACH '{out}'", "forbidden_statement"),
        (f"SELECT $$ x $$; ATTACH '{out}'", "forbidden_statement"),
        (f"/* SELECT */ ATTACH '{out}'", "forbidden_statement"),
        ("SELECT ?", "forbidden_statement"),
        ("SELECT $1", "forbidden_statement"),
        ("SELEC 1", "syntax_error"),
        ("SELECT (((((1)", "syntax_error"),
        ("SELECT 'unterminated", "syntax_error"),
    ]


def test_every_escape_is_refused_with_its_code_and_nothing_is_written(
    analyst, evm_blocks, tmp_path, secret_file
):
    out = str(tmp_path / "written.out")
    before = set(_all_files(tmp_path))
    for sql, code in escape_list(secret_file, out):
        with pytest.raises(QueryRefused) as refused:
            query_execute(user=analyst, sql=sql)
        assert refused.value.code == code, (sql, refused.value.errors)
    assert not QueryResult.objects.exists()
    assert set(_all_files(tmp_path)) == before
    assert not os.path.exists(out)


def _all_files(root):
    for folder, _, files in os.walk(root):
        for name in files:
            yield os.path.join(folder, name)


FILE_READERS = [
    "SELECT * FROM read_csv('{f}')",
    "SELECT * FROM read_csv_auto('{f}')",
    "SELECT * FROM read_text('{f}')",
    "SELECT * FROM '{f}'",
    'SELECT * FROM "{f}"',
    "SELECT content FROM read_text('{f}')",
    "SELECT * FROM glob('{d}/*')",
    "SELECT * FROM sniff_csv('{f}')",
]


@pytest.mark.parametrize("template", FILE_READERS)
def test_the_parse_guard_alone_refuses_file_reads_duckdb_would_allow(template, secret_file):
    """With external access ON (DuckDB's own guard gone), DuckDB reads the file: only the parse
    guard stands between job or query SQL and the file, and it refuses."""
    sql = template.format(f=secret_file, d=os.path.dirname(secret_file))
    open_connection = duckdb.connect(":memory:", config={"enable_external_access": True})
    assert open_connection.execute(sql).fetchall()  # the danger is real
    with pytest.raises(sandbox.SqlRejected) as refused:
        sandbox.parse_read_only(sql)
    assert refused.value.code == "forbidden_statement"


@pytest.mark.parametrize(
    "expression",
    [
        "read_text('{f}')",
        "(SELECT content FROM read_text('{f}'))",
        "(SELECT 1)",
        "block_number IN (SELECT block_number FROM evm.blocks)",
        "getenv('HOME')",
        "current_setting('threads')",
        "block_number) AS p, * FROM read_text('{f}') --",
        "block_number; ATTACH 'x'",
        "EXISTS (SELECT 1)",
    ],
)
def test_partition_by_reading_files_or_queries_is_refused(expression, secret_file):
    with pytest.raises(sandbox.SqlRejected):
        sandbox.parse_expression(expression.format(f=secret_file))


def test_bounds_refuse_deep_nesting_and_huge_sql_before_parsing():
    for sql in [
        "SELECT " + "(" * 5000 + "1" + ")" * 5000,
        "SELECT " + "- " * 5000 + "1",
        "SELECT " + "NOT " * 5000 + "true",
        "SELECT " + "CASE WHEN true THEN " * 500 + "1" + " END" * 500,
        "SELECT " + "[" * 3000 + "1" + "]" * 3000,
        "SELECT 1 AS x" + ", 1" * 30_000,  # about 90 KB
    ]:
        with pytest.raises(sandbox.SqlRejected) as refused:
            sandbox.parse_read_only(sql)
        assert refused.value.code == "syntax_error"


def test_job_sql_on_save_refuses_file_reads_and_abuse(db, org_a, secret_file):
    from orchestration.services import job_create

    for sql in [
        f"SELECT * FROM read_csv('{secret_file}')",
        f"SELECT * FROM '{secret_file}'",
        "SELECT " + "(" * 5000 + "1" + ")" * 5000,
        "SELECT block_number" + ", block_number" * 20_000 + " FROM evm.blocks",
    ]:
        with pytest.raises(ValidationError) as refused:
            job_create(
                org=org_a,
                name="bad",
                runtime="sql",
                operator="duckdb_sql",
                source={"sql": sql},
                input_datasets=["evm.blocks"],
                output_datasets=["acme.bad"],
            )
        assert "source" in refused.value.message_dict


def incremental(
    org, partition_by: str, sql: str = "SELECT block_number, miner FROM evm.blocks", name: str = "by_day"
):
    return sql_job(
        org,
        name,
        sql,
        ["evm.blocks"],
        f"acme.{name}",
        execution_strategy="incremental",
        config={"cursor_column": "block_number", "partition_by": partition_by},
    )


def test_partition_by_must_be_one_expression_over_the_query_columns(org_a, evm_blocks, secret_file):
    job = incremental(org_a, "(block_number // 100)::VARCHAR")
    assert job.pk
    assert incremental(org_a, "'all'", name="one_partition").pk  # a constant: every row to one partition
    for bad in [
        "nosuchcolumn",
        "gas_used",  # an input column the query does not return
        f"read_text('{secret_file}')",
        "(SELECT max(block_number) FROM evm.blocks)",
        "block_number, miner",
    ]:
        with pytest.raises(ValidationError) as refused:
            incremental(org_a, bad)
        assert "config" in refused.value.message_dict, bad


def test_incremental_job_routes_rows_through_the_parsed_partition_by(org_a, evm_blocks, run_tasks):
    from orchestration.services import job_plan
    from versioning.models import PartitionVersion

    job = incremental(org_a, "'p' || (block_number // 100)::VARCHAR")
    job_plan(job=job, force=True)
    run_tasks()
    assert sorted(
        PartitionVersion.objects.filter(dataset="acme.by_day").values_list("partition_key", flat=True)
    ) == [
        "p0",
        "p1",
    ]


def test_sandbox_connection_applies_org_limits_and_locks(org_a):
    org_a.settings = {"query_memory_limit_mb": 300, "query_threads": 1, "query_temp_space_mb": 123}
    limits = sandbox.SandboxLimits.for_org(org_a)
    con = sandbox.sandbox_connect(limits)
    settings = dict(
        con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('threads', 'max_temp_directory_size',"
            " 'enable_external_access', 'autoload_known_extensions', 'autoinstall_known_extensions',"
            " 'lock_configuration', 'memory_limit')"
        ).fetchall()
    )
    assert settings["threads"] == "1"
    assert settings["enable_external_access"] == "false"
    assert settings["autoload_known_extensions"] == "false"
    assert settings["autoinstall_known_extensions"] == "false"
    assert settings["lock_configuration"] == "true"
    assert settings["memory_limit"].startswith("286") or "MiB" in settings["memory_limit"]
    assert settings["max_temp_directory_size"].startswith("117")
    with pytest.raises(duckdb.Error):
        con.execute("SET threads = 8")
    with pytest.raises(duckdb.Error):
        con.execute("SET enable_external_access = true")


def test_job_sql_is_stopped_at_the_jobs_timeout(org_a, evm_blocks, run_tasks):
    from orchestration.models import Task
    from orchestration.services import job_plan

    job = sql_job(
        org_a,
        "endless",
        "SELECT count(*) AS n FROM evm.blocks, range(1000000000000) r",
        ["evm.blocks"],
        "acme.endless",
        execution_strategy="full",
        timeout_seconds=1,
        max_attempts=1,
    )
    job_plan(job=job, force=True)
    run_tasks()
    task = Task.objects.get(job=job)
    assert task.status == "failed"
    # The task's watchdog or the query's own, whichever stops it first, names the timeout.
    assert "timed out after 1s" in task.error_message or "timeout of 1 s" in task.error_message
