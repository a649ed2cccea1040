"""The job page's "Rebuild…" in Chromium: a confirmation page drawn with the theme's own inputs and
buttons that says what will happen, changes nothing until confirmed, and logs no console error.

With ``CHAINLAKE_SCREENSHOTS=1`` its screenshot (1440 by 900) is refreshed as ``docs/rebuild.png``.
"""

from __future__ import annotations

from orchestration.models import Task
from tests.browser.test_custom_pages import assert_themed, lake, screenshot, theme  # noqa: F401 (fixtures)


def test_rebuild_confirms_before_it_rebuilds_and_looks_like_the_theme(admin_page, page_watch, theme, lake):  # noqa: F811
    page = admin_page
    job = lake["job"]
    tasks_before = Task.objects.filter(job=job).count()
    page.goto(f"/admin/orchestration/job/{job.pk}/change/")
    page.click("#job-actions [data-action=rebuild]")
    page.wait_for_url(f"**/admin/orchestration/job/{job.pk}/rebuild/")

    summary = page.locator(".rebuild-summary").inner_text()
    assert summary == (
        f"1 partition of {job} will be recomputed and republished; no job reruns on its output."
    ), summary
    trail = " ".join(page.locator("#header-inner h1").inner_text().split())
    assert trail.endswith("Rebuild") and str(job.name) in trail, trail
    assert_themed(
        page,
        theme,
        {
            "#id_partitions": "input",
            "#id_first": "input",
            "#id_last": "input",
            "#rebuild-form [type=submit]": "button",
        },
    )
    screenshot(page, "rebuild.png")
    assert Task.objects.filter(job=job).count() == tasks_before  # showing the page changed nothing

    # A key the job does not have: a field error, and nothing to confirm.
    page.fill("#id_partitions", "blocks_99999999")
    page.click("#rebuild-narrow-form [type=submit]")
    page.wait_for_selector("text=has no partition blocks_99999999")
    assert page.locator("#rebuild-form [type=submit]").count() == 0

    page.fill("#id_partitions", "")
    page.click("#rebuild-narrow-form [type=submit]")
    page.click("#rebuild-form [type=submit]")
    page.wait_for_url(f"**/admin/orchestration/job/{job.pk}/change/")
    assert f"Rebuilding {job}: 1 task over 1 partition created and dispatched" in page.content()
    assert Task.objects.filter(job=job).count() == tasks_before + 1
    page_watch.assert_clean()
