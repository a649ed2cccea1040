"""Result size caps per mode, bounded fetches, and the platform ceilings on org query limits."""

from __future__ import annotations

import resource

import pyarrow.parquet as pq
import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from orgs.settings_schema import org_settings
from queries.services import query_execute
from testkit.factories import UserFactory
from versioning import duckdb_sandbox as sandbox
from versioning.storage import result_store

WIDE_SQL = "SELECT repeat('x', 50000) AS wide FROM range(10000)"  # 500 MB of strings


def stored_files(tmp_path) -> list[str]:
    """Every file in the result store, the temporary folder included."""
    return sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "results").rglob("*") if p.is_file())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def test_a_wide_sync_result_stops_at_the_cap_with_memory_bounded(analyst, lake_in_tmp):
    before = peak_rss_mb()
    result = query_execute(user=analyst, sql=WIDE_SQL)
    grown = peak_rss_mb() - before
    assert (result.status, result.error_code) == ("failed", "row_limit")
    assert "query_max_sync_result_mb of 64 MiB" in result.error_message
    assert "async or export" in result.error_message
    assert stored_files(lake_in_tmp) == []  # the partial file is gone
    # Fetching 10,000 rows of 50 kB at once held 500 MB outside DuckDB's memory limit (and ten
    # times that as Python strings for the inline rows); now a batch is a few thousand rows and the
    # run stops past 64 MiB.
    assert grown < 400, f"peak RSS grew {grown:.0f} MB"


def test_the_sync_api_answers_the_cap_without_a_server_error(analyst, lake_in_tmp):
    client = APIClient()
    client.force_authenticate(analyst)
    response = client.post("/api/v1/query-results/execute/", {"sql": WIDE_SQL}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["error_code"]) == ("failed", "row_limit")
    assert "rows" not in body or not body["rows"]


@pytest.mark.parametrize(
    ("mode", "output_format", "setting"),
    [
        ("async", "parquet", "query_max_async_result_mb"),
        ("scheduled", "parquet", "query_max_async_result_mb"),
        ("export", "csv", "query_max_export_result_mb"),
        ("export", "json", "query_max_export_result_mb"),
        ("export", "parquet", "query_max_export_result_mb"),
    ],
)
def test_each_mode_has_its_own_cap(analyst, lake_in_tmp, mode, output_format, setting):
    analyst.org.settings = {setting: 1}
    analyst.org.save()
    # About 3 MB as Arrow data and as text; small rows, so the cap is met within the stream.
    sql = "SELECT i, repeat('y', 300) AS pad FROM range(10000) t(i)"
    result = query_execute(user=analyst, sql=sql, mode=mode, output_format=output_format, in_process=True)
    assert (result.status, result.error_code) == ("failed", "row_limit"), result.error_message
    assert f"{setting} of 1 MiB" in result.error_message
    assert result.output_location is None
    assert stored_files(lake_in_tmp) == []


def test_a_text_export_is_capped_by_its_file_not_its_arrow_data(analyst, lake_in_tmp):
    # 200,000 integers are 1.6 MB as Arrow data but 4 MB of JSON lines with their key: the file counts.
    analyst.org.settings = {"query_max_export_result_mb": 2}
    analyst.org.save()
    sql = "SELECT i AS a_rather_long_column_name FROM range(200000) t(i)"
    result = query_execute(user=analyst, sql=sql, mode="export", output_format="json", in_process=True)
    assert (result.status, result.error_code) == ("failed", "row_limit"), result.error_message
    assert stored_files(lake_in_tmp) == []
    parquet = query_execute(user=analyst, sql=sql, mode="export", output_format="parquet", in_process=True)
    assert parquet.status == "succeeded" and parquet.row_count == 200_000


def test_a_result_under_its_cap_is_written_in_bounded_row_groups(analyst, lake_in_tmp):
    # 5,000 rows of 20 kB: 100 MB as Arrow data, under the async cap; a row group is cut at 16 MB,
    # so each fetched batch (2,048 rows, 40 MB) is a row group of its own instead of 10,000 rows.
    sql = "SELECT i, repeat('z', 20000) AS wide FROM range(5000) t(i)"
    result = query_execute(user=analyst, sql=sql, mode="async", in_process=True)
    assert result.status == "succeeded", result.error_message
    assert result.row_count == 5000
    store = result_store()
    with store.fs.open_input_file(store._path(result.output_location)) as handle:
        metadata = pq.ParquetFile(handle).metadata
        groups = [metadata.row_group(i) for i in range(metadata.num_row_groups)]
    assert [g.num_rows for g in groups] == [2048, 2048, 904]


def test_settings_above_the_platform_ceiling_are_refused(analyst, settings):
    settings.ORG_SETTING_CEILINGS = {**settings.ORG_SETTING_CEILINGS, "query_memory_limit_mb": 4096}
    org = analyst.org
    org.settings = {"query_memory_limit_mb": 8192}
    with pytest.raises(ValidationError) as refused:
        org.save()
    assert "query_memory_limit_mb: at most 4096" in str(refused.value)
    org.settings = {"query_memory_limit_mb": 4096}
    org.save()


@pytest.mark.parametrize(
    "key",
    [
        "query_memory_limit_mb",
        "query_threads",
        "query_temp_space_mb",
        "query_timeout_seconds",
        "query_max_sync_rows",
        "query_max_sync_result_mb",
        "query_max_async_result_mb",
        "query_max_export_result_mb",
    ],
)
def test_an_owner_cannot_raise_a_limit_past_its_ceiling_through_the_api(analyst, settings, key):
    ceiling = settings.ORG_SETTING_CEILINGS[key]
    owner = UserFactory(org=analyst.org, role="owner")
    client = APIClient()
    client.force_authenticate(owner)
    url = f"/api/v1/orgs/{analyst.org.pk}/"
    response = client.patch(url, {"settings": {key: ceiling + 1}}, format="json")
    assert response.status_code == 400, response.content
    (error,) = response.json()["errors"]
    assert error["attr"].startswith("settings") and f"at most {ceiling}" in error["detail"]
    assert client.patch(url, {"settings": {key: ceiling}}, format="json").status_code == 200


def test_the_effective_limit_is_the_smaller_of_org_and_ceiling(analyst, settings):
    analyst.org.settings = {"query_memory_limit_mb": 8192, "query_threads": 8, "query_max_sync_rows": 500}
    analyst.org.save()
    # The ceilings are lowered after the org saved its settings: the ceilings win.
    settings.ORG_SETTING_CEILINGS = {
        **settings.ORG_SETTING_CEILINGS,
        "query_memory_limit_mb": 1024,
        "query_threads": 1,
        "query_max_sync_rows": 100,
        "query_max_sync_result_mb": 2,
    }
    limits = sandbox.SandboxLimits.for_org(analyst.org)
    assert (limits.memory_limit_mb, limits.threads) == (1024, 1)
    effective = org_settings(analyst.org.settings)
    assert effective["query_max_sync_rows"] == 100
    assert effective["query_max_sync_result_mb"] == 2  # the default, 64, is above the ceiling
    result = query_execute(user=analyst, sql="SELECT * FROM range(150)")
    assert (result.status, result.error_code) == ("failed", "row_limit")


def test_narrow_rows_still_make_full_row_groups(analyst, lake_in_tmp):
    # Small fetched batches are gathered: 25,000 narrow rows are row groups of 10,000, not of 2,048.
    result = query_execute(user=analyst, sql="SELECT i FROM range(25000) t(i)", mode="async", in_process=True)
    assert result.status == "succeeded", result.error_message
    store = result_store()
    with store.fs.open_input_file(store._path(result.output_location)) as handle:
        metadata = pq.ParquetFile(handle).metadata
        rows = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    assert rows == [10_000, 10_000, 5_000]


def test_a_sync_run_does_not_reuse_a_larger_async_result(analyst, lake_in_tmp):
    # 1,000 rows of 100 kB: under the sync row cap, over its 64 MiB, and tiny once compressed.
    sql = "SELECT repeat('x', 100000) AS wide FROM range(1000)"
    cached = query_execute(user=analyst, sql=sql, mode="async", in_process=True)
    assert cached.status == "succeeded" and cached.bytes < 1 << 20
    again = query_execute(user=analyst, sql=sql)
    assert again.output_location != cached.output_location
    assert (again.status, again.error_code) == ("failed", "row_limit")
    small = query_execute(user=analyst, sql="SELECT 1 AS one")
    assert query_execute(user=analyst, sql="SELECT 1 AS one").output_location == small.output_location


@pytest.mark.parametrize("as_format", ["csv", "json"])
def test_a_converted_download_streams_in_bounded_chunks(analyst, lake_in_tmp, as_format):
    # 3,000 rows of 50 kB (150 MB) stored as Parquet, converted on the way out: no chunk holds more
    # than about a thousand rows, where it once held 10,000 (500 MB of text built in the web process).
    sql = "SELECT i, repeat('w', 50000) AS wide FROM range(3000) t(i)"
    result = query_execute(user=analyst, sql=sql, mode="async", in_process=True)
    assert result.status == "succeeded", result.error_message
    client = APIClient()
    client.force_authenticate(analyst)
    response = client.get(f"/api/v1/query-results/{result.pk}/download/?as={as_format}")
    assert response.status_code == 200
    sizes = [len(chunk) for chunk in response.streaming_content]
    assert sum(sizes) > 3000 * 50_000
    assert max(sizes) < 1100 * 50_100
