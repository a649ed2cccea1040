"""A task's page with its log lines and a delivery's page with its attempts, in Chromium: their
tables are drawn like a changelist, the receiver's answer shows as text, no console error.

With ``CHAINLAKE_SCREENSHOTS=1`` they refresh ``docs/task-log.png`` and ``docs/delivery.png``.
"""

from __future__ import annotations

import logging

import pytest

from alerting.models import AlertDelivery
from alerting.services import alert_definition_test_fire, deliveries_process
from orchestration.models import Task
from platform_site.record_logs import task_log_context
from testkit.factories import AlertDefinitionFactory
from tests.alerting.conftest import SECRET
from tests.alerting.receiver import Answer, Receiver
from tests.browser import test_custom_pages
from tests.browser.test_custom_pages import VIEWPORT, assert_themed, screenshot

operator_log = logging.getLogger("operators.transfer_counts")
# The custom pages' fixtures: a lake with a job and its task, and the theme's reference styles.
lake = test_custom_pages.lake
theme = test_custom_pages.theme


@pytest.fixture(autouse=True)
def record_logs_in_tmp(settings, tmp_path):
    settings.RECORD_LOG_DIR = tmp_path / "logs"
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]
    settings.ALERT_RETRY_SCALE = 0


def fits_the_page(page, selector: str) -> None:
    """The table has its section's width (a long traceback or answer wraps, nothing is cut off or
    widens the page), and the page shows it."""
    width, room, page_width, viewport = page.evaluate(
        """(selector) => { const t = document.querySelector(selector);
        return [t.scrollWidth, t.parentElement.clientWidth, document.documentElement.scrollWidth,
                window.innerWidth]; }""",
        selector,
    )
    assert width <= room, f"{selector} needs {width} px and has {room}"
    assert page_width <= viewport, f"the page is {page_width} px wide in a {viewport} px window"
    page.evaluate(
        "(selector) => window.scrollTo(0, document.querySelector(selector).getBoundingClientRect().top"
        " + window.scrollY - 240)",
        selector,
    )


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


def test_task_page_shows_its_log_lines_like_a_changelist(admin_page, page_watch, theme, lake):
    page = admin_page
    task = Task.objects.get(job=lake["job"])
    # Lines as a run logs them: the operator's own, unaware of the task, and a failure.
    with task_log_context(task.id):
        operator_log.info("read 200 transfers from evm.transfers blocks_00000000")
        operator_log.warning("slow partition: <4 s> for 200 rows")
        try:
            raise ValueError("counting failed on a malformed row")
        except ValueError:
            operator_log.exception("retrying the partition")
    page.set_viewport_size(VIEWPORT)
    page.goto(f"/admin/orchestration/task/{task.pk}/change/")
    table = page.locator("#task-log")
    cells = table.locator("tbody td").all_inner_texts()
    assert "read 200 transfers from evm.transfers blocks_00000000" in cells
    assert "slow partition: <4 s> for 200 rows" in cells  # text, not markup
    assert any("ValueError: counting failed on a malformed row" in cell for cell in cells)
    assert_themed(
        page,
        theme,
        {
            "#task-log thead th": "header",
            "#task-log tbody td": "cell",
        },
    )
    fits_the_page(page, "#task-log")
    screenshot(page, "task-log.png")
    page_watch.assert_clean()


def test_delivery_page_shows_attempts_and_redeliver_like_the_theme(
    admin_page, page_watch, theme, lake, receiver, browser_superuser
):
    page = admin_page
    definition = AlertDefinitionFactory(
        org=lake["org"],
        user=browser_superuser,
        name="Whale transfers to the on-call hook",
        condition=lake["definition"].condition,
        channels=[{"type": "webhook", "url": receiver.url + "/hook", "secret": SECRET}],
    )
    receiver.scripts["/hook"] = [
        Answer(status=500, body=b"<script>document.title='owned'</script> upstream down"),
        Answer(status=200, body=b'{"accepted": true}'),
    ]
    event = alert_definition_test_fire(definition=definition, user=browser_superuser)
    deliveries_process(limit=None)
    delivery = AlertDelivery.objects.get(alert_event=event)
    page.set_viewport_size(VIEWPORT)
    page.goto(f"/admin/alerting/alertdelivery/{delivery.pk}/change/")
    assert "owned" not in page.title()
    table = page.locator("#delivery-attempts")
    cells = table.locator("tbody td").all_inner_texts()
    assert "500" in cells and "200" in cells
    assert "<script>document.title='owned'</script> upstream down" in cells
    assert '{"accepted": true}' in cells
    assert_themed(
        page,
        theme,
        {
            "#delivery-attempts thead th": "header",
            "#delivery-attempts tbody td": "cell",
        },
    )
    fits_the_page(page, "#delivery-attempts")
    screenshot(page, "delivery.png")

    page.click("[data-action=redeliver]")
    page.wait_for_selector("#redeliver-form")
    assert_themed(page, theme, {"#redeliver-form [type=submit]": "button"})
    page.click("#redeliver-form [type=submit]")
    page.wait_for_url(f"**/admin/alerting/alertdelivery/{delivery.pk}/change/")
    assert "queued again" in page.locator("body").inner_text()
    assert AlertDelivery.objects.get(pk=delivery.pk).status == "pending"
    page_watch.assert_clean()
