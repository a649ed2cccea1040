"""The ``query`` and ``purge_query_results`` commands."""

import datetime as dt
import io
import json

import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from queries.models import QueryResult
from testkit.factories import OrgFactory, UserFactory


def run(*args):
    out = io.StringIO()
    call_command("query", *args, stdout=out)
    return out.getvalue()


def test_query_prints_a_table(analyst, evm_blocks):
    out = run(
        "SELECT block_number, miner FROM evm.blocks WHERE block_number < $n ORDER BY 1",
        "--org", "acme", "--user", analyst.external_id, "--parameters", '{"n": 2}',
    )  # fmt: skip
    lines = out.splitlines()
    assert lines[0].split("|")[0].strip() == "block_number"
    assert lines[2].split("|")[0].strip() == "0"
    assert "(2 rows" in lines[-1]


def test_query_table_shows_hashes_whole_and_marks_a_cut_value(analyst, evm_blocks):
    out = run(
        "SELECT miner, '0x' || repeat('ab', 32) AS tx_hash, repeat('x', 100) AS long FROM evm.blocks"
        " WHERE block_number = 3",
        "--org", "acme", "--user", analyst.external_id,
    )  # fmt: skip
    miner, tx_hash, long = (cell.strip() for cell in out.splitlines()[2].split("|"))
    assert miner == f"0x{3:040x}"
    assert tx_hash == "0x" + "ab" * 32
    assert long == "x" * 65 + "…"


def test_query_writes_files(analyst, evm_blocks, tmp_path, capfdbinary):
    target = tmp_path / "out.parquet"
    run("SELECT * FROM evm.blocks", "--org", "acme", "--user", analyst.external_id, "--format", "parquet",
        "--output", str(target))  # fmt: skip
    assert pq.read_table(target).num_rows == 200
    sql = "SELECT block_number FROM evm.blocks ORDER BY 1 LIMIT 2"
    run(sql, "--org", "acme", "--user", analyst.external_id, "--format", "json")
    lines = capfdbinary.readouterr().out.decode().splitlines()
    assert [json.loads(line) for line in lines[-2:]] == [{"block_number": 0}, {"block_number": 1}]
    assert QueryResult.objects.filter(mode="export").count() == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["SELECT * FROM beta.x", "--org", "acme"], "unknown_dataset"),
        (["COPY evm.blocks TO 'x'", "--org", "acme"], "forbidden_statement"),
        (["SELECT 1", "--org", "beta"], "no active user"),
        (["SELECT $a", "--org", "acme", "--parameters", "{"], "not JSON"),
        (["SELECT 1", "--org", "acme", "--format", "parquet"], "--output"),
    ],
)
def test_query_errors_are_one_line(analyst, evm_blocks, args, message):
    with pytest.raises(CommandError) as error:
        run(*args, "--user", analyst.external_id)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_purge_command(analyst, evm_blocks):
    run("SELECT 1 AS x", "--org", "acme", "--user", analyst.external_id)
    QueryResult.objects.update(created_at=timezone.now() - dt.timedelta(days=365))
    out = io.StringIO()
    call_command("purge_query_results", stdout=out)
    assert "1 result expired" in out.getvalue()
    assert QueryResult.objects.get().status == "expired"


def test_schedules_are_registered(db):
    from django_q.models import Schedule

    from queries.schedules import ensure_schedules

    ensure_schedules()
    assert Schedule.objects.get(name="queries.purge_results").func == "queries.tasks.query_results_purge"
    assert Schedule.objects.get(name="queries.reap_results").minutes == 1


def test_a_superuser_queries_for_any_org_and_others_stay_in_their_own(analyst, evm_blocks, db):
    root = UserFactory(org=OrgFactory(slug="platform-root"), is_superuser=True, is_staff=True)
    out = run("SELECT count(*) AS n FROM evm.blocks", "--org", "acme", "--user", root.external_id)
    assert "200" in out
    out = run("SELECT count(*) AS n FROM evm.blocks", "--user", root.external_id)
    assert "200" in out
    with pytest.raises(CommandError, match="no active user"):
        run("SELECT 1", "--org", "platform-root", "--user", analyst.external_id)
