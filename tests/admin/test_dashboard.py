"""The admin index is a dashboard of the viewer's org (superusers: every org), from bounded SQL."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from platform_site.dashboard import compute_figures
from testkit.factories import (
    AlertDeliveryFactory,
    AlertEventFactory,
    JobFactory,
    PartitionVersionFactory,
    TaskFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_dashboard_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def two_orgs(org_a, org_b):
    job_a = JobFactory(org=org_a, name="alpha_job", output_datasets=["alpha.out"])
    job_b = JobFactory(org=org_b, name="bravo_secret_job", output_datasets=["bravo.out"])
    for _ in range(3):
        TaskFactory(job=job_a, status="failed")
    TaskFactory(job=job_a, status="running")
    for _ in range(5):
        TaskFactory(job=job_b, status="failed")
    TaskFactory(job=job_b, status="pending", created_at=timezone.now() - dt.timedelta(hours=2))
    PartitionVersionFactory(dataset="alpha.out", partition_key="p1", bytes=1000, row_count=10)
    PartitionVersionFactory(dataset="bravo.out", partition_key="p1", bytes=5000, row_count=50)
    event = AlertEventFactory(org=org_b)
    AlertDeliveryFactory(org=org_b, alert_event=event, status="dead")
    return job_a, job_b


def test_org_staff_see_only_their_org(staff_client, two_orgs):
    job_a, _ = two_orgs
    page = staff_client.get(reverse("admin:index")).content.decode()
    figures = staff_client.get(reverse("admin:index")).context["figures"]

    assert "bravo" not in page.lower()
    assert figures["failures_by_job"] == [{"job_id": job_a.pk, "job": "alpha_job", "failed": 3}]
    assert figures["live_tasks"] == {"pending": 0, "queued": 0, "running": 1}
    assert figures["oldest_due"] is None
    assert [d["dataset"] for d in figures["lake"]["datasets"]] == ["alpha.out"]
    assert figures["deliveries"] == {"due": 0, "dead": 0}
    assert figures["alert_events_per_day"] == []


def test_superusers_see_every_org_with_links_to_the_filtered_lists(admin_client, two_orgs):
    _, job_b = two_orgs
    response = admin_client.get(reverse("admin:index"))
    figures = response.context["figures"]
    page = response.content.decode()

    assert figures["failures_by_job"][0] == {"job_id": job_b.pk, "job": "bravo_secret_job", "failed": 5}
    assert figures["oldest_due"]["job_id"] == job_b.pk
    assert figures["oldest_due"]["age"] >= dt.timedelta(hours=2)
    assert figures["lake"]["bytes"] == 6000 and figures["lake"]["partitions"] == 2
    assert figures["deliveries"]["dead"] == 1
    assert sum(n for _, n in figures["alert_events_per_day"]) == 1
    assert f"status__exact=failed&job__id__exact={job_b.pk}" in page
    assert 'data-type="bar"' in page  # the task chart is drawn by the theme's local Chart.js


def test_tasks_per_minute_cover_the_last_24_hours_only(org_a):
    job = JobFactory(org=org_a)
    now = timezone.now()
    TaskFactory(job=job, status="succeeded", created_at=now - dt.timedelta(minutes=5))
    TaskFactory(job=job, status="succeeded", created_at=now - dt.timedelta(hours=30))

    rows = compute_figures(org_id=org_a.pk, now=now)["tasks_per_minute"]

    assert [(status, count) for _, status, count in rows] == [("succeeded", 1)]


def test_figures_are_cached_for_a_while(staff_client, org_a):
    job = JobFactory(org=org_a)
    staff_client.get(reverse("admin:index"))
    TaskFactory(job=job, status="running")

    cached = staff_client.get(reverse("admin:index")).context["figures"]
    cache.clear()
    fresh = staff_client.get(reverse("admin:index")).context["figures"]

    assert cached["live_tasks"]["running"] == 0 and fresh["live_tasks"]["running"] == 1


def test_an_empty_platform_renders_without_charts(client):
    user = UserFactory(is_staff=True, role="viewer")
    client.force_login(user)
    page = client.get(reverse("admin:index")).content.decode()
    assert "No task was created in the last 24 hours." in page
    assert "The lake is empty." in page


def test_a_finite_source_that_read_its_last_block_is_caught_up_not_lagging(staff_client, org_a):
    finished = JobFactory(
        org=org_a,
        name="finite",
        runtime="source",
        output_datasets=["alpha.blocks"],
        config={"end_block": 4999},
    )
    PartitionVersionFactory(
        dataset="alpha.blocks", partition_key="blocks_00004000", version=timezone.now() - dt.timedelta(days=2)
    )
    (row,) = compute_figures(org_id=org_a.pk, now=timezone.now())["ingestion"]
    assert row["done"] and row["end_block"] == 4999
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert "caught up" in page and "2\xa0days" not in page

    finished.config = {"end_block": 9999}  # more blocks to come: the time since it moved is a lag again
    finished.save(update_fields=["config"])
    cache.clear()
    (row,) = compute_figures(org_id=org_a.pk, now=timezone.now())["ingestion"]
    assert not row["done"]
    assert "caught up" not in staff_client.get(reverse("admin:index")).content.decode()
