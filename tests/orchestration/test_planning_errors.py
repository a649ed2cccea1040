"""A planning failure is kept on the job (its page and the API show it), one bad invalidation stops
neither the job's other work nor any other job, and a clean plan clears the failure."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from orchestration.models import Task
from orchestration.selectors.planning import planning_error
from orchestration.services import job_plan, plan_active_jobs
from testkit.factories import OrgFactory, sql_job, synthetic_source_job
from versioning.models import DataInvalidation

pytestmark = pytest.mark.django_db


@pytest.fixture
def built(run_tasks):
    """evm.blocks (3 partitions) -> acme.copy, and an unrelated acme.numbers -> acme.doubled."""
    org = OrgFactory(slug="acme")
    source = synthetic_source_job(end_block=299, partition_size=100)
    copy = sql_job(
        org, "copy", "SELECT block_number, block_hash FROM evm.blocks", ["evm.blocks"], "acme.copy"
    )
    job_plan(job=source)
    run_tasks()
    return source, copy


def a_recorded_bad_invalidation() -> DataInvalidation:
    # Recorded before filters were checked against the schema (or the column's type changed since):
    # the service refuses it today, so it is written as an old row would be.
    return DataInvalidation.objects.create(
        dataset="evm.blocks", scope="rows", row_filter={"block_number": {"gte": "abc"}}, reason="typo"
    )


def test_a_bad_invalidation_is_reported_and_the_rest_is_planned(built, run_tasks):
    _source, copy = built
    bad = a_recorded_bad_invalidation()
    good = DataInvalidation.objects.create(
        dataset="evm.blocks", scope="partition", partition_key="blocks_00000100", reason="fix"
    )
    other = sql_job(
        OrgFactory(slug="acme"), "again", "SELECT block_number FROM acme.copy", ["acme.copy"], "acme.again"
    )

    results = {r.job_id: r for r in plan_active_jobs()}

    assert results[str(copy.id)].partitions == ["blocks_00000100"]  # the good invalidation's work
    assert Task.objects.filter(job=other, status="pending").count() == 3  # another job, planned
    message, at = planning_error(job=copy)
    assert f"invalidation {bad.id} of evm.blocks" in message and "'abc' is not an integer" in message
    assert at is not None
    run_tasks()
    job_plan(job=copy)
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.processed_at is not None
    assert bad.processed_at is None  # left open for a person to decide, still reported
    assert planning_error(job=copy) is not None

    bad.delete()
    job_plan(job=copy)
    assert planning_error(job=copy) is None


def test_the_job_page_and_the_api_show_the_planning_failure(built, admin_client, superuser):
    _source, copy = built
    bad = a_recorded_bad_invalidation()
    page = admin_client.get(reverse("admin:orchestration_job_change", args=[copy.pk])).content.decode()
    assert "Planning failed" not in page
    plan_active_jobs()

    page = admin_client.get(reverse("admin:orchestration_job_change", args=[copy.pk])).content.decode()
    assert "Planning failed at" in page and str(bad.id) in page

    api = APIClient()
    api.force_authenticate(superuser)
    detail = api.get(f"/api/v1/jobs/{copy.id}/").json()
    assert str(bad.id) in detail["planning_error"]["message"] and detail["planning_error"]["at"]
    listed = {j["id"]: j for j in api.get("/api/v1/jobs/").json()["results"]}
    assert listed[str(copy.id)]["planning_error"] == detail["planning_error"]
    assert all(j["planning_error"] is None for i, j in listed.items() if i != str(copy.id))


def test_a_plan_that_raises_is_recorded_and_the_next_job_is_planned(built, monkeypatch):
    from orchestration.services import scheduler

    _source, copy = built
    doubled = sql_job(
        OrgFactory(slug="acme"),
        "doubled",
        "SELECT block_number * 2 AS n FROM evm.blocks",
        ["evm.blocks"],
        "acme.d",
    )
    real = scheduler.selectors.stale_partitions

    def broken_for_copy(*, job, until):
        if job.pk == copy.pk:
            raise RuntimeError("storage answered nonsense")
        return real(job=job, until=until)

    monkeypatch.setattr(scheduler.selectors, "stale_partitions", broken_for_copy)
    results = {r.job_id: r for r in plan_active_jobs()}

    assert results[str(copy.id)].error == "RuntimeError: storage answered nonsense"
    assert planning_error(job=copy)[0] == "RuntimeError: storage answered nonsense"
    assert len(results[str(doubled.id)].partitions) == 3
