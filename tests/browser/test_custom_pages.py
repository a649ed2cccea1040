"""Every custom admin page (SQL console, datasets, backfill, backtest, test-fire, label import,
personal-data registry, DAGs, record tables, the job page's tabs) is built from the theme's own
components: its inputs, buttons and table cells compute to the same border, padding, background and
font as a theme changelist's, it logs no console error and asks no outside host.

With ``CHAINLAKE_SCREENSHOTS=1`` each page's screenshot (1440 by 900) is refreshed under ``docs/``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from django.utils import timezone

from orchestration.models import Task
from testkit.factories import (
    AddressLabelFactory,
    AlertDefinitionFactory,
    platform_org_for_tests,
    sql_job,
)
from tests.alerting.conftest import publish

DOCS = Path(__file__).resolve().parents[2] / "docs"
VIEWPORT = {"width": 1440, "height": 900}

# What makes an element look like the theme's: its box, its fill and its type.
BOX_STYLES = [
    "border-top-width",
    "border-top-style",
    "border-top-color",
    "border-bottom-width",
    "padding-top",
    "padding-right",
    "padding-bottom",
    "padding-left",
    "background-color",
    "font-family",
    "font-size",
    "font-weight",
]
FIELD_STYLES = [*BOX_STYLES, "border-left-width", "border-radius"]

STYLES_OF = """([selector, names]) => {
  const node = document.querySelector(selector);
  if (!node) return null;
  const style = getComputedStyle(node);
  return Object.fromEntries(names.map((name) => [name, style.getPropertyValue(name)]));
}"""


def styles(page, selector: str, names: list[str]) -> dict[str, str]:
    found = page.evaluate(STYLES_OF, [selector, names])
    assert found is not None, f"{page.url}: nothing matches {selector}"
    return found


@pytest.fixture
def lake(settings, tmp_path, browser_superuser):
    """A published dataset, a manual job of the superuser's org with a finished task, an alert
    definition on the dataset and an address label."""
    settings.STORAGE_URL = (tmp_path / "lake").as_uri()
    settings.RESULT_STORAGE_URL = (tmp_path / "results").as_uri()
    settings.SYSTEM_NAMESPACES = ["evm"]
    platform_org_for_tests()
    org = browser_superuser.org
    publish(0, 99)
    job = sql_job(
        org,
        "transfer_counts",
        "SELECT count(*) AS transfers FROM evm.transfers",
        ["evm.transfers"],
        f"{org.slug}.transfer_counts",
        activation="manual",
    )
    now = timezone.now()
    Task.objects.create(
        job=job,
        partitions=["blocks_00000000"],
        status="succeeded",
        attempts=1,
        started_at=now - dt.timedelta(seconds=3, microseconds=123456),
        completed_at=now - dt.timedelta(microseconds=654321),
    )
    definition = AlertDefinitionFactory(
        org=org,
        user=browser_superuser,
        name="Whale transfers",
        condition={
            "dataset": "evm.transfers",
            "where": {"column": "value", "op": "gte", "value": "90000000000000000000"},
        },
        channels=[],
    )
    AddressLabelFactory(org=org, user=browser_superuser)
    return {"job": job, "definition": definition, "org": org}


@pytest.fixture
def theme(admin_page, lake):
    """Computed styles of the theme's own elements: a changelist's header and body cells, and a
    change form's text input, select, primary and secondary buttons."""
    page = admin_page
    page.set_viewport_size(VIEWPORT)
    page.goto("/admin/labels/addresslabel/")
    reference = {
        "cell": styles(page, "#result_list tbody td.field-label", BOX_STYLES),
        "header": styles(page, "#result_list thead th:not(.action-checkbox-column)", BOX_STYLES),
    }
    page.goto("/admin/labels/addresslabel/add/")
    reference |= {
        "input": styles(page, "#id_label", FIELD_STYLES),
        "select": styles(page, "#id_visibility", FIELD_STYLES),
        "button": styles(page, "button[name=_save]", FIELD_STYLES),
        "secondary_button": styles(page, "button[name=_continue]", FIELD_STYLES),
    }
    return reference


def assert_themed(page, theme, elements: dict[str, str]) -> None:
    """Each ``{selector: kind}`` element computes to the theme's own element of that kind."""
    page.mouse.move(0, 0)  # no hover colours
    for selector, kind in elements.items():
        names = BOX_STYLES if kind in {"cell", "header"} else FIELD_STYLES
        found = styles(page, selector, names)
        different = {
            name: (found[name], theme[kind][name]) for name in names if found[name] != theme[kind][name]
        }
        assert not different, f"{page.url} {selector} is not drawn as the theme's {kind}: {different}"


def screenshot(page, name: str) -> None:
    if os.environ.get("CHAINLAKE_SCREENSHOTS"):
        DOCS.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS / name))


def test_sql_console_and_datasets_look_like_the_theme(admin_page, page_watch, theme, lake):
    page = admin_page
    page.goto("/admin/queries/savedquery/console/")
    # In the sidebar, lit as the current page; the header names the page, not the saved-query list.
    nav = page.locator("#nav-sidebar-inner, nav").first
    console_link = page.locator("a[href='/admin/queries/savedquery/console/']").first
    assert console_link.is_visible() and "SQL console" in console_link.inner_text()
    header = page.locator("#header-inner").inner_text()
    assert "SQL console" in header and "Saved queries" not in header
    assert "•" not in header and nav.count() == 1

    page.fill(
        "#sql-editor", "SELECT block_number, log_index, value FROM evm.transfers ORDER BY 1, 2 LIMIT 40"
    )
    page.click("#run-button")
    page.wait_for_function("document.querySelectorAll('#result-table tbody tr').length === 40")
    assert_themed(
        page,
        theme,
        {
            "#save-name": "input",
            "#sql-parameters": "input",
            "#sql-mode": "select",
            "#run-button": "button",
            "#save-button": "secondary_button",
            "#result-table thead th": "header",
            "#result-table tbody td": "cell",
        },
    )
    page.select_option("#chart-x", label="block_number")
    page.select_option("#chart-y", label="log_index")
    page.click("#chart-button")
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "sql-console.png")

    page.goto("/admin/queries/savedquery/datasets/")
    assert "Datasets" in page.locator("#header-inner").inner_text()
    assert_themed(page, theme, {"#dataset-list thead th": "header", "#dataset-list tbody td": "cell"})
    screenshot(page, "datasets.png")
    page_watch.assert_clean()


def test_job_backfill_and_job_tabs_look_like_the_theme(admin_page, page_watch, theme, lake):
    page = admin_page
    job = lake["job"]
    page.goto(f"/admin/orchestration/job/{job.pk}/backfill/")
    assert_themed(
        page,
        theme,
        {"#id_first": "input", "#id_last": "input", "#backfill-form [type=submit]": "button"},
    )
    screenshot(page, "backfill.png")

    page.goto(f"/admin/orchestration/job/{job.pk}/change/")
    page.locator("#job_form").get_by_text("Tasks", exact=True).first.click()
    recent = page.locator(".cl-theme-table").first
    assert_themed(page, theme, {".cl-theme-table thead th": "header", ".cl-theme-table tbody td": "cell"})
    # Times to the second in their own cells: never two values read as one string.
    cells = recent.locator("tbody td").all_inner_texts()
    started = Task.objects.get(job=job).started_at
    assert timezone.localtime(started).strftime("%Y-%m-%d %H:%M:%S") in cells
    assert not any(re.search(r"\d:\d\d\.\d", cell) for cell in cells), cells  # no microseconds
    # The table has the row's width: no column is cut off.
    width, room = page.evaluate(
        "() => { const t = document.querySelector('.cl-theme-table table');"
        " return [t.scrollWidth, t.parentElement.clientWidth]; }"
    )
    assert width <= room, f"the recent-tasks table needs {width} px and has {room}"
    screenshot(page, "job-tasks.png")
    page_watch.assert_clean()


def test_backtest_and_test_fire_look_like_the_theme(admin_page, page_watch, theme, lake):
    page = admin_page
    definition = lake["definition"]
    page.goto(f"/admin/alerting/alertdefinition/{definition.pk}/backtest/")
    trail = " ".join(page.locator("#header-inner h1").inner_text().split())
    assert trail.endswith("Backtest") and "Whale transfers" in trail, trail
    page.fill("#id_first", "blocks_00000000")
    page.click("[type=submit][value='Run backtest']")
    page.wait_for_selector("#backtest-events")
    assert_themed(page, theme, {"#id_first": "input", "#operation-form [type=submit]": "button"})
    screenshot(page, "backtest.png")

    page.goto(f"/admin/alerting/alertdefinition/{definition.pk}/test-fire/")
    assert_themed(page, theme, {"#operation-form [type=submit]": "button"})
    screenshot(page, "test-fire.png")
    page_watch.assert_clean()


def test_label_import_submits_without_a_script_error_and_looks_like_the_theme(
    admin_page, page_watch, theme, lake, tmp_path
):
    page = admin_page
    page.goto("/admin/labels/addresslabel/")
    tools = page.locator("#header-inner").inner_text()
    assert "•" not in tools
    page.get_by_text("Import CSV").first.click()
    page.wait_for_url("**/addresslabel/import/")
    assert_themed(page, theme, {"#id_default_visibility": "select", "#import-form [type=submit]": "button"})

    labels = tmp_path / "labels.csv"
    labels.write_text(
        "address,label\n0x" + "ab" * 20 + ",exchange\nnot-an-address,broken\n0x" + "cd" * 20 + ",\n"
    )
    page.set_input_files("#id_file", str(labels))
    # The theme's file picker shows the chosen name (its script found the box it writes to).
    assert page.locator("#import-form input[type=text][disabled]").input_value() == "labels.csv"
    page.click("#import-form [type=submit]")
    page.wait_for_selector("#rejected_rows")
    assert_themed(page, theme, {"#rejected_rows thead th": "header", "#rejected_rows tbody td": "cell"})
    assert page.locator("#rejected_rows tbody tr").count() == 2
    screenshot(page, "label-import.png")
    page_watch.assert_clean()


def test_contracts_page_registers_shows_field_errors_and_looks_like_the_theme(
    admin_page, page_watch, theme, lake
):
    page = admin_page
    page.goto("/admin/chains/contracts/")
    assert_themed(
        page,
        theme,
        {"#id_name": "input", "#id_chain": "select", "#contract-form [type=submit]": "button"},
    )
    page.fill("#id_name", "tokens")
    page.fill("#id_abi", '[{"type": "event", "name": "X", "inputs": [{"name": "a", "type": "uint7"}]}]')
    page.click("#contract-form [type=submit]")
    assert "unknown type 'uint7'" in page.locator("#contract-form").inner_text()
    page.fill("#id_abi", "")
    page.select_option("#id_standard", "erc20")
    page.click("#contract-form [type=submit]")
    page.wait_for_selector("#contracts")
    assert_themed(page, theme, {"#contracts thead th": "header", "#contracts tbody td": "cell"})
    assert "tokens_evt_transfer" in page.locator("#contracts").inner_text()
    screenshot(page, "contracts.png")
    page_watch.assert_clean()


def test_registry_and_record_tables_look_like_the_theme(admin_page, page_watch, theme, lake):
    page = admin_page
    page.goto("/admin/pii/piiaccesslog/registry/")
    header = page.locator("#header-inner").inner_text()
    assert "Personal data registry" in header
    assert_themed(page, theme, {"#result_list thead th": "header", "#result_list tbody td": "cell"})
    screenshot(page, "pii-registry.png")

    page.goto("/admin/pii/piiaccesslog/")
    body = page.locator("body").inner_text()
    assert "yielded" not in body and "PII access to view" not in page.title()
    assert "0 entries" in body and "0 PII access log" not in body

    page.goto("/admin/records/orchestration/taskinput/")
    assert_themed(
        page, theme, {".record-filters input[type=text]": "input", ".record-filters [type=submit]": "button"}
    )
    page.goto("/admin/records/versioning/partitionversion/")
    assert_themed(page, theme, {"#result_list thead th": "header", "#result_list tbody td": "cell"})
    screenshot(page, "record-table.png")

    page.goto("/admin/orchestration/job/dags/")
    screenshot(page, "dags.png")
    page_watch.assert_clean()


def test_job_list_fits_at_1440_pixels(admin_page, page_watch, lake):
    page = admin_page
    page.set_viewport_size(VIEWPORT)
    org = lake["org"]
    for n in range(3):
        sql_job(
            org,
            f"daily_transfer_volume_by_token_{n}",
            "SELECT 1 AS one",
            ["evm.transfers"],
            f"{org.slug}.daily_transfer_volume_by_token_{n}",
            dag_name="token_analytics_pipeline",
        )
    page.goto("/admin/orchestration/job/")
    table_width, room = page.evaluate(
        "() => { const t = document.querySelector('#result_list');"
        " const box = t.closest('[data-simplebar]') || t.parentElement;"
        " return [t.scrollWidth, box.clientWidth]; }"
    )
    assert table_width <= room, f"the job list needs {table_width} px and has {room}"
    screenshot(page, "jobs.png")
    page_watch.assert_clean()


OVERLAPS = """(selector) => {
  const boxes = [...document.querySelectorAll(selector)].map((n) => n.getBoundingClientRect());
  const hits = [];
  for (let i = 0; i < boxes.length; i++)
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) hits.push([i, j]);
    }
  return [boxes.length, hits.length];
}"""


def test_console_chart_labels_do_not_overlap(admin_page, page_watch, lake):
    page = admin_page
    page.set_viewport_size(VIEWPORT)
    page.goto("/admin/queries/savedquery/console/")
    # Long x labels (timestamps) and large y values: the worst case for a small chart.
    page.fill(
        "#sql-editor",
        "SELECT TIMESTAMP '2026-12-05 09:44:17' + INTERVAL (block_number) MINUTE AS at,"
        " block_number * 123456789 AS gas FROM evm.transfers ORDER BY block_number LIMIT 60",
    )
    page.click("#run-button")
    page.wait_for_function("document.querySelectorAll('#result-table tbody tr').length > 0")
    page.select_option("#chart-x", label="at")
    page.select_option("#chart-y", label="gas")
    page.click("#chart-button")
    count, overlapping = page.evaluate(OVERLAPS, "#chart svg text")
    assert count >= 4 and overlapping == 0, f"{overlapping} overlapping pairs among {count} labels"
    page_watch.assert_clean()


CHART_LABELS_CLEAR = """(selector) => {
  const chart = Chart.getChart(document.querySelector(selector));
  const scale = chart.scales.x;
  const items = scale.getLabelItems();
  const ctx = chart.ctx;
  const boxes = items.map((item) => {
    ctx.font = item.font.string;
    const width = ctx.measureText(String(item.label)).width;
    const x = item.options.translation[0];
    const align = item.options.textAlign;
    const left = align === "left" ? x : align === "right" ? x - width : x - width / 2;
    return { left, right: left + width, rotation: item.options.rotation };
  });
  const rotated = boxes.filter((b) => b.rotation).length;
  let overlapping = 0;
  for (let i = 1; i < boxes.length; i++) if (boxes[i].left < boxes[i - 1].right) overlapping++;
  return [boxes.length, rotated, overlapping];
}"""


def test_dashboard_chart_labels_are_level_and_do_not_overlap(admin_page, page_watch, lake):
    from testkit.factories import AlertEventFactory

    page = admin_page
    page.set_viewport_size(VIEWPORT)
    now = timezone.now()
    for day in range(14):
        event = AlertEventFactory(org=lake["org"], alert_definition=lake["definition"])
        type(event).objects.filter(pk=event.pk).update(created_at=now - dt.timedelta(days=day))
    for minutes in range(0, 24 * 60, 37):
        Task.objects.create(
            job=lake["job"],
            status="succeeded",
            started_at=now - dt.timedelta(minutes=minutes, seconds=5),
            completed_at=now - dt.timedelta(minutes=minutes),
        )
    page.goto("/admin/")
    assert "1 partition in 1 dataset" in " ".join(page.locator("#card-lake").inner_text().split())
    for card in ("#card-tasks-per-minute", "#card-alerts"):
        selector = f"{card} canvas.chart"
        page.wait_for_function(f"() => window.Chart && Chart.getChart(document.querySelector('{selector}'))")
        count, rotated, overlapping = page.evaluate(CHART_LABELS_CLEAR, selector)
        assert count >= 3 and rotated == 0 and overlapping == 0, (card, count, rotated, overlapping)
    screenshot(page, "dashboard-charts.png")
    page_watch.assert_clean()
