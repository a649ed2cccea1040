"""How each job is doing, for the admin's job list, job page, DAG page and dashboard.

One query for a whole list: per-job figures are correlated subqueries over the tasks index
``(job, status, -created_at)``, so a list of 50 jobs costs one statement however many tasks exist.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, DateTimeField, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import Job, Task

FAILED_WINDOW = dt.timedelta(hours=24)


def _latest(status: str, column: str):
    return Subquery(
        Task.objects.filter(job=OuterRef("pk"), status=status).order_by("-created_at").values(column)[:1],
        output_field=DateTimeField(),
    )


def _count(statuses: list[str], since: dt.datetime | None = None):
    tasks = Task.objects.filter(job=OuterRef("pk"), status__in=statuses)
    if since is not None:
        tasks = tasks.filter(created_at__gte=since)
    return Coalesce(
        Subquery(
            tasks.order_by().values("job").annotate(n=Count("*")).values("n")[:1],
            output_field=IntegerField(),
        ),
        0,
    )


def with_health(queryset: QuerySet[Job], *, now: dt.datetime | None = None) -> QuerySet[Job]:
    """``queryset`` annotated with ``last_success_at``, ``last_failure_created_at``,
    ``running_count``, ``failed_count`` (last 24 h) and ``oldest_waiting_at`` (the oldest task
    waiting to run: its age is the job's lag)."""
    now = now or timezone.now()
    return queryset.annotate(
        last_success_at=_latest("succeeded", "completed_at"),
        last_success_created_at=_latest("succeeded", "created_at"),
        last_failure_created_at=_latest("failed", "created_at"),
        running_count=_count(["running"]),
        failed_count=_count(["failed"], since=now - FAILED_WINDOW),
        oldest_waiting_at=Subquery(
            Task.objects.filter(job=OuterRef("pk"), status__in=["pending", "queued"])
            .order_by("created_at")
            .values("created_at")[:1],
            output_field=DateTimeField(),
        ),
    )


def job_state(job: Job) -> str:
    """``paused`` (inactive), ``failing`` (its newest finished task failed) or ``active``."""
    if not job.active:
        return "paused"
    failure = getattr(job, "last_failure_created_at", None)
    success = getattr(job, "last_success_created_at", None)
    if failure is not None and (success is None or failure > success):
        return "failing"
    return "active"


def job_lag(job: Job, *, now: dt.datetime | None = None) -> dt.timedelta | None:
    waiting = getattr(job, "oldest_waiting_at", None)
    if waiting is None:
        return None
    return max(dt.timedelta(0), (now or timezone.now()) - waiting)
