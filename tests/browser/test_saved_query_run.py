"""A person clicks Run on a saved query and lands on a page with the run it made: its rows, and the run
at the top of the saved query's result history marked "this run"; an async run shows its status and
updates when a worker finishes it; a reload shows the same run without running the query again."""

import os
from pathlib import Path

import pyarrow as pa
import pytest

from queries.models import QueryResult, SavedQuery
from queries.services.execution import query_result_run_queued
from testkit.factories import OrgFactory, UserFactory
from tests.browser.conftest import BROWSER_PASSWORD, log_in
from versioning.services import dataset_partition_write

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture
def analyst(transactional_db, settings, tmp_path):
    settings.STORAGE_URL = (tmp_path / "lake").as_uri()
    settings.RESULT_STORAGE_URL = (tmp_path / "results").as_uri()
    settings.SYSTEM_NAMESPACES = ["evm"]
    numbers = list(range(240))
    dataset_partition_write(
        dataset="evm.blocks",
        partition_key="blocks_00000000",
        table=pa.table({"block_number": numbers, "gas_used": [n * 10 for n in numbers]}),
    )
    org = OrgFactory(slug="acme")
    return UserFactory(
        org=org, external_id="analyst", role="member", is_staff=True, password=BROWSER_PASSWORD
    )


@pytest.fixture
def saved(analyst):
    return SavedQuery.objects.create(
        org=analyst.org,
        user=analyst,
        name="gas by hundred blocks",
        query="SELECT block_number // 100 AS hundred, sum(gas_used) AS gas FROM evm.blocks "
        "GROUP BY ALL ORDER BY hundred",
    )


def history_rows(page):
    return page.locator("#result-history tbody tr")


def test_clicking_run_shows_the_rows_and_the_run_in_the_history(page, page_watch, analyst, saved):
    log_in(page, username="analyst", password=BROWSER_PASSWORD)
    page.goto(f"/admin/queries/savedquery/{saved.pk}/change/")
    page.click("#run-saved-query")

    page.wait_for_selector("#result-table tbody td")
    cells = page.locator("#result-table tbody tr").first.locator("td")
    assert [cells.nth(0).text_content(), cells.nth(1).text_content()] == ["0", "49500"]
    assert page.locator("#result-table tbody tr").count() == 3
    run = QueryResult.objects.get(saved_query=saved)
    assert run.user_id == analyst.pk and run.status == "succeeded"
    page.wait_for_selector(f"#result-history tr[data-result-id='{run.pk}'][data-this-run='1']")
    assert history_rows(page).count() == 1
    assert history_rows(page).first.locator(".this-run-badge").text_content() == "this run"
    assert "cl-badge--succeeded" in history_rows(page).first.inner_html()
    # The address names the run: a reload shows it again and does not run the query again.
    assert f"result={run.pk}" in page.url and "run=1" not in page.url
    page.reload()
    page.wait_for_selector("#result-table tbody td")
    assert page.locator("#result-table tbody tr").count() == 3
    assert QueryResult.objects.filter(saved_query=saved).count() == 1
    if os.environ.get("CHAINLAKE_SCREENSHOTS"):
        DOCS.mkdir(exist_ok=True)
        page.set_viewport_size({"width": 1440, "height": 900})
        page.locator("#result-history").scroll_into_view_if_needed()
        page.screenshot(path=str(DOCS / "saved-query-run.png"))
    page_watch.assert_clean()

    # Run again from the console: the new run is this run, on top; the first one is below it.
    page.click("#run-button")
    page.wait_for_function(
        "(first) => document.querySelectorAll('#result-history tbody tr').length === 2"
        " && document.querySelector('#result-history tr[data-this-run]').dataset.resultId !== first",
        arg=str(run.pk),
    )
    second = QueryResult.objects.filter(saved_query=saved).exclude(pk=run.pk).get()
    assert history_rows(page).first.get_attribute("data-result-id") == str(second.pk)
    assert history_rows(page).nth(1).get_attribute("data-result-id") == str(run.pk)
    page_watch.assert_clean()


def test_an_async_run_shows_its_status_and_updates_when_it_finishes(page, page_watch, analyst, saved):
    log_in(page, username="analyst", password=BROWSER_PASSWORD)
    page.goto(f"/admin/queries/savedquery/console/?saved={saved.pk}")
    page.select_option("#sql-mode", "async")
    page.click("#run-button")
    page.wait_for_selector("#result-history tr[data-this-run='1'] .cl-badge--queued")
    run = QueryResult.objects.get(saved_query=saved)
    assert page.text_content("#console-status") == f"Result {run.pk} is queued…"
    assert page.locator("#result-area").is_hidden()

    # A worker runs it; the page, polling, shows the rows and the history follows.
    assert query_result_run_queued(result_id=run.pk, sql=saved.query, parameters={}) == "succeeded"
    page.wait_for_selector("#result-table tbody td")
    assert page.locator("#result-table tbody tr").count() == 3
    page.wait_for_selector(f"#result-history tr[data-result-id='{run.pk}'] .cl-badge--succeeded")
    assert history_rows(page).count() == 1
    page_watch.assert_clean()
