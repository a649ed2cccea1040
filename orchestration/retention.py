"""Retention of the engine's records (registered with ``platform_site.retention`` from the app's
``ready()``): finished tasks (succeeded, failed, cancelled) created more than the org's
``retention_days`` ago, with their ``task_inputs``, except the tasks that built a partition still
current in the catalog: the planner reads their ``task_inputs`` to know which input versions the
current output read. A pruned task's log file (``platform_site.record_logs``) goes with it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import connection

from platform_site.record_logs import TASKS, record_logs_delete
from platform_site.retention import delete_in_batches

from .models import Task

FINISHED_TASKS = ("succeeded", "failed", "cancelled")
# The task id inside a partition file name (versioning.storage.partition_location).
LOCATION_TASK_ID = (
    r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-[0-9]+-[0-9a-f]+\.parquet$"
)


@contextmanager
def current_tasks_table() -> Iterator[None]:
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
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS retention_current_tasks")


def prune_tasks(org_id, org_settings: dict, now: datetime) -> dict[str, int]:
    cutoff = now - timedelta(days=org_settings["retention_days"])
    pruned: list = []
    deleted = delete_in_batches(
        Task,
        """
        SELECT t.id FROM tasks t JOIN jobs j ON j.id = t.job_id
        WHERE j.org_id = %(org)s AND t.created_at < %(cutoff)s AND t.status = ANY(%(finished)s)
          AND NOT EXISTS (SELECT 1 FROM retention_current_tasks c WHERE c.id = t.id)
        ORDER BY t.created_at LIMIT %(batch)s
        """,
        {"org": org_id, "cutoff": cutoff, "finished": list(FINISHED_TASKS)},
        on_batch=lambda ids: pruned.extend(ids),
    )
    # After the rows are gone: a file left by a failed batch is only space, never a dangling page.
    record_logs_delete(TASKS, pruned)
    return {"tasks": deleted}
