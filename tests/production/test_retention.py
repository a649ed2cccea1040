"""Retention deletes what each org's settings let go, in batches, and nothing the planner needs."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule
from django_q.models import Task as QTask

from alerting.models import AlertDelivery, AlertEvent
from orchestration.models import Task, TaskInput
from platform_site.retention import retention_prune
from platform_site.schedules import RETENTION_NAME
from queries.models import QueryResult
from testkit.factories import (
    AlertDeliveryFactory,
    AlertEventFactory,
    JobFactory,
    OrgFactory,
    PartitionVersionFactory,
    QueryResultFactory,
    TaskFactory,
    TaskInputFactory,
)
from versioning.storage import partition_location

pytestmark = pytest.mark.django_db


def aged(obj, days: float, field: str = "created_at"):
    type(obj).objects.filter(pk=obj.pk).update(**{field: timezone.now() - timedelta(days=days)})
    return obj


def test_old_records_go_by_each_orgs_settings(settings, tmp_path):
    settings.RETENTION_BATCH_SIZE = 2  # several batches per kind
    settings.RESULT_STORAGE_URL = (tmp_path / "results").as_uri()
    short = OrgFactory(slug="short", settings={"retention_days": 10, "result_retention_days": 5})
    default = OrgFactory(slug="default")  # 90 and 30 days
    short_job, default_job = JobFactory(org=short), JobFactory(org=default)

    old_done = [aged(TaskFactory(job=short_job, status=s), 20) for s in ("succeeded", "failed", "cancelled")]
    for task in old_done:
        TaskInputFactory(task=task)
    old_live = aged(TaskFactory(job=short_job, status="pending"), 20)
    recent_done = aged(TaskFactory(job=short_job, status="succeeded"), 5)
    # Built the partition that is still current: the planner reads its task_inputs.
    current = aged(TaskFactory(job=short_job, status="succeeded"), 20)
    TaskInputFactory(task=current)
    PartitionVersionFactory(
        dataset="short.out", location=partition_location("short.out", "p1", current.id, 1)
    )
    kept_by_default = aged(TaskFactory(job=default_job, status="succeeded"), 20)

    over = aged(AlertDeliveryFactory(org=short, status="delivered"), 20)
    pending = aged(AlertDeliveryFactory(org=short, status="pending"), 20)
    aged(pending.alert_event, 20)
    aged(over.alert_event, 20)
    lone_event = aged(AlertEventFactory(org=short), 20)
    recent_event = aged(AlertEventFactory(org=short), 2)
    # The alert event that a task produced keeps pointing nowhere once the task goes (SET NULL).
    produced = aged(AlertEventFactory(org=default, producer_task=old_done[0]), 1)

    aged(QueryResultFactory(org=short, output_location="r/old.parquet"), 6)
    (tmp_path / "results" / "r").mkdir(parents=True)
    (tmp_path / "results" / "r" / "old.parquet").write_bytes(b"x")
    kept_result = aged(QueryResultFactory(org=default), 6)

    counts = retention_prune()

    assert counts["tasks"] == 3
    assert set(Task.objects.values_list("id", flat=True)) == {
        old_live.id,
        recent_done.id,
        current.id,
        kept_by_default.id,
    }
    assert not TaskInput.objects.filter(task_id__in=[t.id for t in old_done]).exists()
    assert TaskInput.objects.filter(task=current).exists()
    assert set(AlertDelivery.objects.values_list("id", flat=True)) == {pending.id}
    assert set(AlertEvent.objects.values_list("id", flat=True)) == {
        pending.alert_event_id,
        recent_event.id,
        produced.id,
    }
    assert lone_event.id not in AlertEvent.objects.values_list("id", flat=True)
    produced.refresh_from_db()
    assert produced.producer_task_id is None
    assert set(QueryResult.objects.values_list("id", flat=True)) == {kept_result.id}
    assert not (tmp_path / "results" / "r" / "old.parquet").exists()
    assert counts == {
        "tasks": 3,
        "alert_deliveries": 1,
        "alert_events": 2,
        "query_results": 1,
        "django_q_tasks": 0,
    }


def test_django_q_records_go_after_their_own_days(settings):
    settings.Q_RETENTION_DAYS = 7
    now = timezone.now()
    for name, age in (("old", 8), ("new", 1)):
        QTask.objects.create(
            id=name * 4,
            name=name,
            func="math.floor",
            started=now - timedelta(days=age),
            stopped=now - timedelta(days=age),
            success=True,
        )
    call_command("prune")
    assert list(QTask.objects.values_list("name", flat=True)) == ["new"]


def test_retention_runs_daily():
    schedule = Schedule.objects.get(name=RETENTION_NAME)
    assert (schedule.func, schedule.schedule_type) == ("platform_site.tasks.retention_daily", Schedule.DAILY)
