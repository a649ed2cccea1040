"""Retention: old engine records are deleted by each org's settings, a batch per short transaction.

What goes, per org (``orgs.settings``, see ``orgs/settings_schema.py``):

- finished tasks (succeeded, failed, cancelled) created more than ``retention_days`` ago, with
  their ``task_inputs`` — except the tasks that built a partition still current in the catalog:
  the planner reads their ``task_inputs`` to know which input versions the current output read;
- alert deliveries that are over (delivered, dead, cancelled) and created more than
  ``retention_days`` ago, then the alert events older than that with no delivery left;
- query results created more than ``result_retention_days`` ago, and their result files;

and django-q2's own task records older than ``Q_RETENTION_DAYS`` (setting, default 7).

Each batch (``RETENTION_BATCH_SIZE`` rows, default 1,000) is its own transaction, so no lock is
held longer than one batch takes and concurrent workers never wait on the pruning. Rows are deleted
through the ORM, so every foreign key (cascades, ``SET NULL``) is honoured.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from orgs.settings_schema import org_settings

log = logging.getLogger(__name__)

FINISHED_TASKS = ("succeeded", "failed", "cancelled")
FINISHED_DELIVERIES = ("delivered", "dead", "cancelled")
# The task id inside a partition file name (versioning.storage.partition_location).
LOCATION_TASK_ID = (
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-[0-9]+-[0-9a-f]+\.parquet$"
)


def _batch_size() -> int:
    return max(1, int(settings.RETENTION_BATCH_SIZE))


def _delete_in_batches(model, select_sql: str, params: dict, *, on_batch=None) -> int:
    """Select up to a batch of ids with ``select_sql``, delete them in one transaction; repeat."""
    deleted = 0
    while True:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(select_sql, {**params, "batch": _batch_size()})
                ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                return deleted
            if on_batch:
                on_batch(ids)
            model.objects.filter(pk__in=ids).delete()
        deleted += len(ids)


def _current_tasks_table() -> None:
    """The tasks whose files are current partitions, once per run (a session temporary table)."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS retention_current_tasks")
        cursor.execute(
            """
            CREATE TEMPORARY TABLE retention_current_tasks AS
            SELECT DISTINCT substring(location FROM %s)::uuid AS id
            FROM partition_versions WHERE substring(location FROM %s) IS NOT NULL
            """,
            [LOCATION_TASK_ID, LOCATION_TASK_ID],
        )
        cursor.execute("CREATE INDEX ON retention_current_tasks (id)")
        cursor.execute("ANALYZE retention_current_tasks")


def _prune_tasks(org_id, cutoff: datetime) -> int:
    Task = apps.get_model("orchestration", "Task")
    return _delete_in_batches(
        Task,
        """
        SELECT t.id FROM tasks t JOIN jobs j ON j.id = t.job_id
        WHERE j.org_id = %(org)s AND t.created_at < %(cutoff)s AND t.status = ANY(%(finished)s)
          AND NOT EXISTS (SELECT 1 FROM retention_current_tasks c WHERE c.id = t.id)
        ORDER BY t.created_at LIMIT %(batch)s
        """,
        {"org": org_id, "cutoff": cutoff, "finished": list(FINISHED_TASKS)},
    )


def _prune_alerts(org_id, cutoff: datetime) -> tuple[int, int]:
    AlertDelivery = apps.get_model("alerting", "AlertDelivery")
    AlertEvent = apps.get_model("alerting", "AlertEvent")
    deliveries = _delete_in_batches(
        AlertDelivery,
        """
        SELECT id FROM alert_deliveries
        WHERE org_id = %(org)s AND created_at < %(cutoff)s AND status = ANY(%(finished)s)
        ORDER BY created_at LIMIT %(batch)s
        """,
        {"org": org_id, "cutoff": cutoff, "finished": list(FINISHED_DELIVERIES)},
    )
    events = _delete_in_batches(
        AlertEvent,
        """
        SELECT e.id FROM alert_events e
        WHERE e.org_id = %(org)s AND e.created_at < %(cutoff)s
          AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.alert_event_id = e.id)
        ORDER BY e.created_at LIMIT %(batch)s
        """,
        {"org": org_id, "cutoff": cutoff},
    )
    return deliveries, events


def _prune_query_results(org_id, cutoff: datetime) -> int:
    QueryResult = apps.get_model("queries", "QueryResult")
    files: list[str] = []

    def remember_files(ids):
        files.extend(
            QueryResult.objects.filter(pk__in=ids, output_location__isnull=False).values_list(
                "output_location", flat=True
            )
        )

    deleted = _delete_in_batches(
        QueryResult,
        """
        SELECT id FROM query_results WHERE org_id = %(org)s AND created_at < %(cutoff)s
        ORDER BY created_at LIMIT %(batch)s
        """,
        {"org": org_id, "cutoff": cutoff},
        on_batch=remember_files,
    )
    _delete_result_files(files)
    return deleted


def _delete_result_files(locations: list[str]) -> None:
    """Best effort: a file left behind is only space, the row that pointed at it is gone."""
    if not locations:
        return
    from versioning.storage import result_store

    store = result_store()
    for location in locations:
        try:
            if store.exists(location):
                store.delete(location)
        except Exception as exc:
            log.warning("could not delete query result file %s: %s", location, exc)


def _prune_django_q(cutoff: datetime) -> int:
    from django_q.models import Task as QTask

    return _delete_in_batches(
        QTask,
        "SELECT id FROM django_q_task WHERE stopped < %(cutoff)s ORDER BY stopped LIMIT %(batch)s",
        {"cutoff": cutoff},
    )


def retention_prune(*, now: datetime | None = None) -> dict[str, int]:
    """Delete what every org's retention settings let go; returns how many rows of each kind."""
    Org = apps.get_model("orgs", "Org")
    now = now or timezone.now()
    counts: Counter[str] = Counter()
    _current_tasks_table()
    try:
        for org in Org.objects.only("id", "settings").iterator():
            effective = org_settings(org.settings)
            cutoff = now - timedelta(days=effective["retention_days"])
            counts["tasks"] += _prune_tasks(org.id, cutoff)
            deliveries, events = _prune_alerts(org.id, cutoff)
            counts["alert_deliveries"] += deliveries
            counts["alert_events"] += events
            results_cutoff = now - timedelta(days=effective["result_retention_days"])
            counts["query_results"] += _prune_query_results(org.id, results_cutoff)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS retention_current_tasks")
    counts["django_q_tasks"] += _prune_django_q(now - timedelta(days=settings.Q_RETENTION_DAYS))
    result = {
        key: counts[key]
        for key in ("tasks", "alert_deliveries", "alert_events", "query_results", "django_q_tasks")
    }
    log.info("retention pruned %s", result, extra={"event": "retention", **result})
    return result
