"""The query API: execute in every mode, rows, download, cancel, expiry, datasets."""

import datetime as dt
import io
import json

import pyarrow.parquet as pq
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from queries.models import QueryResult
from queries.services import query_results_purge
from testkit.factories import AddressLabelFactory, SavedQueryFactory, UserFactory, sql_job
from tests.queries.conftest import blocks_table, publish
from versioning.storage import result_store

EXECUTE = "/api/v1/query-results/execute/"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_sync_execute_returns_rows_inline(analyst, evm_blocks):
    response = client_for(analyst).post(
        EXECUTE,
        {
            "sql": "SELECT block_number FROM evm.blocks WHERE block_number < $n ORDER BY 1",
            "parameters": {"n": 3},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["columns"] == [{"name": "block_number", "type": "int64"}]
    assert body["rows"] == [[0], [1], [2]]


def test_refused_sql_is_a_400_with_its_code(analyst, evm_blocks):
    client = client_for(analyst)
    for sql, code in [
        ("SELEC 1", "syntax_error"),
        ("COPY evm.blocks TO 'x.csv'", "forbidden_statement"),
        ("SELECT * FROM bravo.secret", "unknown_dataset"),
        ("SELECT " + "(" * 3000 + "1" + ")" * 3000, "syntax_error"),
    ]:
        response = client.post(EXECUTE, {"sql": sql}, format="json")
        assert response.status_code == 400, sql
        error = response.json()["errors"][0]
        assert (error["code"], error["attr"]) == (code, "sql")
    response = client.post(EXECUTE, {"sql": "SELECT $a", "parameters": {"a": [1]}}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "parameters.a"
    assert not QueryResult.objects.exists()


def test_rows_page_through_the_stored_file_with_next_links(analyst, evm_blocks):
    client = client_for(analyst)
    result = client.post(
        EXECUTE, {"sql": "SELECT block_number FROM evm.blocks ORDER BY 1"}, format="json"
    ).json()
    page = client.get(result["links"]["rows"] + "?limit=75").json()
    assert [r[0] for r in page["rows"]] == list(range(75))
    assert page["row_count"] == 200
    page = client.get(page["next"]).json()
    assert [r[0] for r in page["rows"]] == list(range(75, 150))
    page = client.get(page["next"]).json()
    assert [r[0] for r in page["rows"]] == list(range(150, 200))
    assert page["next"] is None
    assert client.get(result["links"]["rows"] + "?limit=0").status_code == 400
    assert client.get(result["links"]["rows"] + "?offset=x").status_code == 400


def test_rows_read_only_the_row_groups_of_the_page(analyst, evm_blocks, monkeypatch):
    from queries import result_files

    monkeypatch.setattr(result_files, "ROW_GROUP_ROWS", 50)
    client = client_for(analyst)
    result = client.post(
        EXECUTE, {"sql": "SELECT block_number FROM evm.blocks ORDER BY 1"}, format="json"
    ).json()
    read = []
    original = pq.ParquetFile.read_row_groups

    def spy(self, groups, *args, **kwargs):
        read.append(list(groups))
        return original(self, groups, *args, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_groups", spy)
    page = client.get(result["links"]["rows"] + "?offset=120&limit=10").json()
    assert [r[0] for r in page["rows"]] == list(range(120, 130))
    assert read == [[2]]


def test_download_in_every_format(analyst, evm_blocks):
    client = client_for(analyst)
    result = client.post(
        EXECUTE, {"sql": "SELECT block_number, miner FROM evm.blocks ORDER BY 1 LIMIT 3"}, format="json"
    ).json()
    parquet = b"".join(client.get(result["links"]["download"]).streaming_content)
    assert pq.read_table(io.BytesIO(parquet)).num_rows == 3
    csv = b"".join(client.get(result["links"]["download"] + "?as=csv").streaming_content).decode()
    assert csv.splitlines()[0] == '"block_number","miner"'
    assert len(csv.splitlines()) == 4
    lines = b"".join(client.get(result["links"]["download"] + "?as=json").streaming_content).splitlines()
    assert json.loads(lines[0]) == {"block_number": 0, "miner": "0x" + "0" * 40}
    assert client.get(result["links"]["download"] + "?as=xml").status_code == 400


@pytest.mark.parametrize("output_format", ["csv", "json", "parquet"])
def test_export_writes_the_whole_result_in_its_format(analyst, evm_blocks, output_format, settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    client = client_for(analyst)
    with pytest.MonkeyPatch.context():
        response = client.post(
            EXECUTE,
            {"sql": "SELECT * FROM evm.blocks", "mode": "export", "format": output_format},
            format="json",
        )
    assert response.status_code == 202
    result = QueryResult.objects.get(pk=response.json()["id"])
    assert result.status == "queued"
    from queries.services import query_result_run_queued

    query_result_run_queued(result_id=result.pk, sql="SELECT * FROM evm.blocks", parameters={})
    result.refresh_from_db()
    assert (result.status, result.row_count, result.output_format) == ("succeeded", 200, output_format)
    assert result.output_location.endswith(
        {"csv": ".csv", "json": ".jsonl", "parquet": ".parquet"}[output_format]
    )
    page = client.get(f"/api/v1/query-results/{result.pk}/rows/?offset=198&limit=5").json()
    assert [int(r[0]) for r in page["rows"]] == [198, 199]


def test_cancel_a_queued_result_and_the_worker_skips_it(analyst, evm_blocks):
    from queries.services import query_result_run_queued

    client = client_for(analyst)
    queued = client.post(EXECUTE, {"sql": "SELECT 1 AS x", "mode": "async"}, format="json").json()
    assert queued["status"] == "queued"
    cancelled = client.post(queued["links"]["cancel"])
    assert cancelled.json()["status"] == "cancelled"
    assert query_result_run_queued(result_id=queued["id"], sql="SELECT 1 AS x", parameters={}) == "skipped"
    assert client.post(queued["links"]["cancel"]).status_code == 409
    other = UserFactory(org=analyst.org, role="member")
    assert client_for(other).post(queued["links"]["cancel"]).status_code == 404  # not theirs to see


def test_expired_result_answers_410_and_purge_removes_its_file(analyst, evm_blocks):
    client = client_for(analyst)
    result = client.post(EXECUTE, {"sql": "SELECT 1 AS x"}, format="json").json()
    row = QueryResult.objects.get(pk=result["id"])
    QueryResult.objects.filter(pk=row.pk).update(created_at=timezone.now() - dt.timedelta(days=31))
    for link in ("detail", "rows", "download"):
        response = client.get(result["links"][link])
        assert response.status_code == 410
        assert response.json()["errors"][0]["code"] == "expired"
    assert result_store().exists(row.output_location)
    assert query_results_purge() == 1
    row.refresh_from_db()
    assert row.status == "expired"
    assert not result_store().exists(row.output_location)
    assert client.get(result["links"]["detail"]).status_code == 410


def test_purge_spares_a_file_still_used_by_a_fresh_cache_hit(analyst, evm_blocks):
    client = client_for(analyst)
    first = client.post(EXECUTE, {"sql": "SELECT 2 AS x"}, format="json").json()
    second = client.post(EXECUTE, {"sql": "SELECT 2 AS x"}, format="json").json()
    assert first["output_location"] == second["output_location"]
    QueryResult.objects.filter(pk=first["id"]).update(created_at=timezone.now() - dt.timedelta(days=40))
    assert query_results_purge() == 1
    assert result_store().exists(second["output_location"])


def test_member_sees_only_own_results_and_admin_sees_the_org(analyst, evm_blocks):
    colleague = UserFactory(org=analyst.org, role="member")
    admin = UserFactory(org=analyst.org, role="admin")
    mine = client_for(analyst).post(EXECUTE, {"sql": "SELECT 3 AS x"}, format="json").json()
    assert client_for(colleague).get("/api/v1/query-results/").json()["results"] == []
    assert client_for(colleague).get(mine["links"]["detail"]).status_code == 404
    assert client_for(colleague).get(mine["links"]["rows"]).status_code == 404
    assert [r["id"] for r in client_for(admin).get("/api/v1/query-results/").json()["results"]] == [
        mine["id"]
    ]


def test_saved_query_runs_for_readers_and_refuses_bad_sql_on_save(analyst, evm_blocks):
    saved = SavedQueryFactory(org=analyst.org, user=analyst, query="SELECT count(*) AS n FROM evm.blocks")
    viewer = UserFactory(org=analyst.org, role="viewer")
    response = client_for(viewer).post(f"/api/v1/saved-queries/{saved.pk}/execute/", {}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["rows"] == [[200]]
    assert response.json()["saved_query"] == str(saved.pk)
    outsider = UserFactory(role="member")
    assert client_for(outsider).post(f"/api/v1/saved-queries/{saved.pk}/execute/", {}).status_code == 404
    bad = client_for(analyst).post(
        "/api/v1/saved-queries/", {"name": "x", "query": "ATTACH 'x.db'", "visibility": "org"}, format="json"
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["attr"] == "query"


ADDR = {letter: "0x" + letter * 40 for letter in "abcde"}


def test_labels_view_shows_only_labels_the_user_may_see_fresh_and_cached(analyst, evm_blocks):
    colleague = UserFactory(org=analyst.org, role="member")
    AddressLabelFactory(
        org=analyst.org, user=analyst, address=ADDR["a"], label="mine private", visibility="private"
    )
    AddressLabelFactory(
        org=analyst.org, user=colleague, address=ADDR["b"], label="colleague private", visibility="private"
    )
    AddressLabelFactory(
        org=analyst.org, user=colleague, address=ADDR["c"], label="org label", visibility="org"
    )
    AddressLabelFactory(address=ADDR["d"], label="other org public", visibility="public")
    AddressLabelFactory(address=ADDR["e"], label="other org only", visibility="org")
    sql = {"sql": "SELECT label FROM address_labels ORDER BY label"}
    for _ in range(2):  # fresh, then again (the cache must not serve one user's labels to another)
        mine = client_for(analyst).post(EXECUTE, sql, format="json").json()
        theirs = client_for(colleague).post(EXECUTE, sql, format="json").json()
        assert [r[0] for r in mine["rows"]] == ["mine private", "org label", "other org public"]
        assert [r[0] for r in theirs["rows"]] == ["colleague private", "org label", "other org public"]
        assert mine["sql_hash"] != theirs["sql_hash"]


def test_datasets_resource_lists_what_the_user_may_read(analyst, other_analyst, evm_blocks):
    publish("beta.private", "all", blocks_table(0, 3))
    publish("acme.mine", "all", blocks_table(0, 5))
    sql_job(
        analyst.org,
        "mine_copy",
        "SELECT block_number, miner FROM evm.blocks",
        ["evm.blocks"],
        "acme.copy",
    )
    body = client_for(analyst).get("/api/v1/datasets/").json()
    names = [d["name"] for d in body]
    assert names == ["acme.copy", "acme.mine", "evm.blocks"]
    blocks = next(d for d in body if d["name"] == "evm.blocks")
    assert blocks["partition_count"] == 2
    assert blocks["row_count"] == 200
    assert blocks["bytes"] > 0
    assert blocks["columns"] == [
        {"name": "block_number", "type": "int64"},
        {"name": "miner", "type": "string"},
        {"name": "gas_used", "type": "int64"},
    ]
    assert {"column": "miner", "dataset": "acme.copy", "to_column": "miner"} in blocks["downstream"]
    copy = client_for(analyst).get("/api/v1/datasets/acme.copy/").json()
    assert copy["producer"]["name"] == "acme/mine_copy" and copy["producer"]["dag"] == "dag"
    assert {"column": "block_number", "dataset": "evm.blocks", "from_column": "block_number"} in copy[
        "upstream"
    ]
    assert client_for(analyst).get("/api/v1/datasets/beta.private/").status_code == 404
    assert client_for(analyst).get("/api/v1/datasets/nope.nope/").status_code == 404
    # Org B's lineage from evm.blocks never shows on org A's page.
    assert all(edge["dataset"].split(".")[0] in {"acme", "evm"} for edge in blocks["downstream"])


def test_execute_is_documented_with_examples(client, analyst):
    client.force_login(analyst)
    schema = client.get("/api/schema/", {"format": "json"}).json()
    execute = schema["paths"]["/api/v1/query-results/execute/"]["post"]
    assert execute["requestBody"]["content"]["application/json"]["examples"]
    for path in [
        "/api/v1/query-results/{id}/rows/",
        "/api/v1/query-results/{id}/download/",
        "/api/v1/query-results/{id}/cancel/",
        "/api/v1/datasets/",
        "/api/v1/saved-queries/{id}/execute/",
    ]:
        assert path in schema["paths"], path


def test_downloads_are_named_after_the_saved_query_and_when_it_ran(analyst, evm_blocks):
    client = client_for(analyst)
    adhoc = client.post(EXECUTE, {"sql": "SELECT 1 AS one"}, format="json").json()
    header = client.get(adhoc["links"]["download"] + "?as=csv")["Content-Disposition"]
    ran = QueryResult.objects.get(pk=adhoc["id"]).created_at
    assert header == f'attachment; filename="query-{ran:%Y%m%d-%H%M%S}.csv"'

    saved = SavedQueryFactory(
        org=analyst.org, user=analyst, name="Daily blocks / miner", query="SELECT 2 AS two"
    )
    result = client.post(f"/api/v1/saved-queries/{saved.pk}/execute/", {}, format="json").json()
    header = client.get(result["links"]["download"])["Content-Disposition"]
    ran = QueryResult.objects.get(pk=result["id"]).created_at
    assert header == f'attachment; filename="daily-blocks-miner-{ran:%Y%m%d-%H%M%S}.parquet"'
