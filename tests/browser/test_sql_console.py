"""The SQL console in a real browser: log in, run, page, chart, save, and see an error's code."""

import pyarrow as pa
import pytest

from queries.models import SavedQuery
from testkit.factories import OrgFactory, UserFactory
from tests.browser.conftest import BROWSER_PASSWORD, log_in
from versioning.services import dataset_partition_write


@pytest.fixture
def analyst(transactional_db, settings, tmp_path):
    settings.STORAGE_URL = (tmp_path / "lake").as_uri()
    settings.RESULT_STORAGE_URL = (tmp_path / "results").as_uri()
    settings.SYSTEM_NAMESPACES = ["evm"]
    for start in (0, 150):
        numbers = list(range(start, start + 150))
        dataset_partition_write(
            dataset="evm.blocks",
            partition_key=f"blocks_{start:08d}",
            table=pa.table({"block_number": numbers, "gas_used": [n * 10 for n in numbers]}),
        )
    org = OrgFactory(slug="acme")
    return UserFactory(
        org=org, external_id="analyst", role="member", is_staff=True, password=BROWSER_PASSWORD
    )


def test_run_page_chart_and_save_in_the_console(page, page_watch, analyst):
    log_in(page, username="analyst", password=BROWSER_PASSWORD)
    page.goto("/admin/queries/savedquery/console/")
    assert page.locator("#console-datasets summary[data-name='evm.blocks']").count() == 1

    page.fill("#sql-editor", "SELECT block_number, gas_used FROM evm.blocks ORDER BY block_number")
    page.click("#run-button")
    # The first page is fetched from the stored result after the run: wait for its rows.
    page.wait_for_function("document.querySelectorAll('#result-table tbody tr').length === 100")
    assert page.text_content("#result-summary").startswith("300 rows in ")
    assert page.locator("#result-table tbody tr").count() == 100
    assert page.text_content("#page-info") == "rows 1 to 100 of 300"

    page.click("#next-page")
    page.wait_for_function("document.querySelector('#page-info').textContent.startsWith('rows 101')")
    assert page.locator("#result-table tbody tr").first.locator("td").first.text_content() == "100"

    page.select_option("#chart-x", label="block_number")
    page.select_option("#chart-y", label="gas_used")
    page.select_option("#chart-kind", "bar")
    page.click("#chart-button")
    assert page.locator("#chart svg[data-kind='bar'] rect.bar").count() == 100
    page.select_option("#chart-kind", "line")
    page.click("#chart-button")
    assert page.locator("#chart svg[data-kind='line'] path.line").count() == 1

    page.fill("#save-name", "blocks by gas")
    page.click("#save-button")
    page.wait_for_function("document.querySelector('#console-status').textContent.startsWith('Saved')")
    saved = SavedQuery.objects.get(name="blocks by gas")
    assert saved.user_id == analyst.pk
    assert saved.query.startswith("SELECT block_number, gas_used")
    page_watch.assert_clean()

    # A refused statement shows its code (the 400 itself is logged by the browser; not a page error).
    page.fill("#sql-editor", "COPY evm.blocks TO 'out.csv'")
    page.click("#run-button")
    page.wait_for_selector("#error-code")
    assert page.text_content("#error-code") == "forbidden_statement"
    assert not page_watch.page_errors and not page_watch.outside_requests


def test_saved_query_page_runs_it_in_the_console(page, page_watch, analyst):
    saved = SavedQuery.objects.create(
        org=analyst.org, user=analyst, name="count", query="SELECT count(*) AS n FROM evm.blocks"
    )
    log_in(page, username="analyst", password=BROWSER_PASSWORD)
    page.goto(f"/admin/queries/savedquery/{saved.pk}/change/")
    page.click("#run-saved-query")
    page.wait_for_selector("#result-table tbody td")
    assert page.locator("#result-table tbody td").first.text_content() == "300"
    page.goto(f"/admin/queries/savedquery/{saved.pk}/change/")
    assert page.locator("#result-history tbody tr").count() == 1
    page_watch.assert_clean()
