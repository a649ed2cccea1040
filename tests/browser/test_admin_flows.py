"""Staff flows in a real browser on the demo data: log in, the dashboard, a job page, run it now and
watch its tasks finish, backfill a range, the DAG page, the task list and the API docs. No page logs
a console error or asks an outside host; each page's load time is reported at the end of the run.

With ``CHAINLAKE_SCREENSHOTS=1`` the flow also refreshes the screenshots under ``docs/``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from orchestration.models import Job, Task
from orchestration.services import plan_active_jobs
from orgs.models import Org
from testkit.factories import sql_job
from tests.browser.conftest import BROWSER_PASSWORD, PAGE_TIMINGS, load_seconds, log_in
from tests.orchestration.conftest import drain

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture
def demo(settings, tmp_path, monkeypatch, browser_superuser):
    """The demo pipeline, run to completion on the synthetic chain, plus a manual job of the demo
    org that has never run."""
    settings.STORAGE_URL = (tmp_path / "lake").as_uri()
    settings.RESULT_STORAGE_URL = (tmp_path / "results").as_uri()
    settings.PYTHON_CALLABLE_MODULES = ["chains.demo"]
    monkeypatch.delenv("CHAINLAKE_EVM_RPC_URL", raising=False)
    call_command("seed_demo_pipeline", quiet=True)
    plan_active_jobs()
    drain()
    demo_org = Org.objects.get(slug="demo")
    manual = sql_job(
        demo_org,
        "block_counts",
        "SELECT count(*) AS blocks, max(block_number) AS last_block FROM evm.blocks",
        ["evm.blocks"],
        "demo.block_counts",
        dag_name="evm_demo",
        activation="manual",
    )
    return manual


def fast(page, path: str) -> None:
    """Open ``path`` and record how long it took to load (reported at the end of the run; timings
    are figures to read, not assertions, on a machine shared with other work)."""
    PAGE_TIMINGS.append((path, load_seconds(page, path)))


def screenshot(page, name: str) -> None:
    if os.environ.get("CHAINLAKE_SCREENSHOTS"):
        DOCS.mkdir(exist_ok=True)
        page.screenshot(path=str(DOCS / name))


def wait_until(condition, *, timeout: float = 60, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_dashboard_job_run_now_backfill_and_task_list(page, page_watch, browser_superuser, demo):
    job = demo
    log_in(page, username=browser_superuser.external_id, password=BROWSER_PASSWORD)

    # The dashboard: charts drawn from the locally served Chart.js, the lake's datasets listed.
    fast(page, "/admin/")
    assert page.locator("#card-tasks-per-minute canvas.chart").count() == 1
    page.wait_for_function("() => window.Chart && Chart.getChart(document.querySelector('canvas.chart'))")
    datasets = page.locator("#card-datasets").inner_text()
    assert "evm.blocks" in datasets and "evm.transfers" in datasets
    screenshot(page, "dashboard.png")

    # The job page: tabs, the DAG around it with its upstream producer, and its action buttons.
    fast(page, f"/admin/orchestration/job/{job.pk}/change/")
    graph = page.locator(".cl-dag svg")
    assert "block_counts" in graph.text_content() and "evm.blocks" in graph.text_content()
    for tab, shows in (
        ("Tasks", "Recent tasks"),
        ("Partitions", "Partitions owned (newest 50)"),
        ("Lineage", "Column lineage"),
        ("Config", "Execution strategy"),
        ("Overview", "DAG around this job"),
    ):
        page.locator("#job_form").get_by_text(tab, exact=True).first.click()
        expect(page.get_by_text(shows).first).to_be_visible()

    # Run it now: the button runs the changelist's action on this job.
    page.locator("button[data-action=run_now]").click()
    page.wait_for_url(f"**/admin/orchestration/job/{job.pk}/change/")
    assert "5 tasks created" in page.content()
    assert Task.objects.filter(job=job).count() == 5

    # A worker runs them (the engine's execution path, in this process); the list shows them finish.
    drain()
    tasks_url = f"/admin/orchestration/task/?job__id__exact={job.pk}"

    def all_succeeded() -> bool:
        page.goto(tasks_url)
        badges = page.locator("#result_list .cl-badge").all_inner_texts()
        return len(badges) == 5 and set(badges) == {"succeeded"}

    wait_until(all_succeeded, what="the run-now tasks to show as succeeded")

    # Backfill a range of two partitions.
    page.goto(f"/admin/orchestration/job/{job.pk}/change/")
    page.locator("a[data-action=backfill]").click()
    page.fill("input[name=first]", "blocks_00001000")
    page.fill("input[name=last]", "blocks_00002000")
    page.locator("#content-main [type=submit], form [type=submit]").last.click()
    page.wait_for_url(f"**/admin/orchestration/job/{job.pk}/change/")
    assert "2 tasks over 2 partitions" in page.content()
    drain()
    assert Task.objects.filter(job=job, status="succeeded").count() == 7

    # The task list: no horizontal scroll at 1,400 px, short linked ids, times to the second.
    fast(page, "/admin/orchestration/task/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    table_width, room = page.evaluate(
        "() => { const t = document.querySelector('#result_list');"
        " return [t.scrollWidth, t.parentElement.clientWidth]; }"
    )
    assert table_width <= room, f"the task list needs {table_width} px and has {room}"
    first_id = page.locator("#result_list tbody tr .cl-short").first
    assert first_id.get_attribute("title") == str(Task.objects.order_by("-created_at", "-id").first().pk)
    assert page.locator("#result_list tbody tr td.field-created").first.inner_text().count(":") == 2
    screenshot(page, "tasks.png")

    fast(page, f"/admin/orchestration/job/{job.pk}/change/")
    health = page.locator(".readonly", has_text="last success").first.inner_text()
    assert "last success —" not in health and "failed in 24 h 0" in health, health
    screenshot(page, "job.png")

    # The DAG page draws every job of the demo DAG with its health.
    fast(page, "/admin/orchestration/job/dags/")
    drawn = " ".join(page.locator("#dags svg").all_text_contents())
    for name in Job.objects.values_list("name", flat=True):
        assert name in drawn

    page_watch.assert_clean()


@pytest.mark.parametrize(
    ("path", "rendered"),
    [("/api/schema/swagger/", ".opblock-tag-section"), ("/api/schema/redoc/", "[data-section-id]")],
)
def test_api_docs_render_offline(admin_page, page_watch, path, rendered):
    fast(admin_page, path)
    admin_page.wait_for_selector(rendered, timeout=30_000)
    text = admin_page.locator("body").inner_text().lower()
    assert "jobs" in text and "tasks" in text
    page_watch.assert_clean()


def test_root_leads_to_the_admin(admin_page, page_watch):
    admin_page.goto("/")
    assert admin_page.url.endswith("/admin/")
    page_watch.assert_clean()
