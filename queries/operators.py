"""``saved_query``: a job that runs a saved query and publishes its result as a partition.

``source``: ``{"saved_query": "<id>"}`` (a saved query of the job's org); ``input_datasets``: every
dataset the SQL reads (so the job is planned when they change, or on its cron with
``activation: schedule``); one output dataset in the org's namespace; the output partition is
``config.output_partition`` (default ``all``), replaced whole on each run. The query runs through
the query service as its creator (their datasets and labels), in ``scheduled`` mode with the org's
limits; the ``query_results`` row records the task. A failed query fails the task with its code.

Its output is an org dataset every member of the org reads, so the query may read only what every
member may read (:func:`queries.scheduled.scheduled_read_error`): the org's own and the system datasets, never
``address_labels`` (whose rows depend on who reads them). Personal columns arrive masked (a
scheduled run never unmasks) and their registration follows the output through column lineage.
Checked when the job is saved, when its saved query is edited, and again on every run.
"""

from __future__ import annotations

import uuid

from orchestration.operators import register
from orchestration.operators.base import Operator, OperatorError, PermanentOperatorError, TaskContext
from orchestration.operators.lineage import sql_column_lineage
from versioning import duckdb_sandbox as sandbox
from versioning.storage import result_store

from .models import QueryResult, SavedQuery
from .scheduled import scheduled_read_error
from .services import QueryRefused, query_execute


def _saved_query(job):
    ident = (job.source or {}).get("saved_query")
    try:
        uuid.UUID(str(ident))
    except ValueError:
        return None
    return SavedQuery.objects.select_related("user", "org").filter(pk=ident, org_id=job.org_id).first()


@register
class SavedQueryOperator(Operator):
    name = "saved_query"
    runtimes = ("sql",)

    def validate(self, job) -> dict[str, str]:
        errors: dict[str, str] = {}
        saved = _saved_query(job)
        if saved is None:
            return {"source": 'saved_query needs {"saved_query": "<id of a saved query of the org>"}'}
        refused = scheduled_read_error(saved.query, job.org)
        if refused:
            return {"source": refused}
        statement = sandbox.parse_read_only(saved.query)
        tables = sandbox.referenced_tables(statement) - {"address_labels"}
        missing = tables - set(job.input_datasets or [])
        if missing:
            errors["input_datasets"] = "list every dataset the query reads: " + ", ".join(sorted(missing))
        if len(job.output_datasets or []) != 1:
            errors["output_datasets"] = "saved_query writes exactly one output dataset"
        return errors

    def column_lineage(self, job) -> list[tuple[str, str, str, str]]:
        saved = _saved_query(job)
        if saved is None:
            return []
        return sql_column_lineage(saved.query, job.input_datasets, job.output_datasets[0])

    def run(self, ctx: TaskContext) -> None:
        saved = _saved_query(ctx.job)
        if saved is None:
            raise PermanentOperatorError("the saved query of this job no longer exists")
        refused = scheduled_read_error(saved.query, ctx.job.org)
        if refused:  # edited since the job was saved, behind the services' back
            raise PermanentOperatorError(refused)
        try:
            result = query_execute(
                user=saved.user, saved_query=saved, mode=QueryResult.Mode.SCHEDULED, task=ctx.task
            )
        except QueryRefused as exc:
            raise PermanentOperatorError(f"{exc.code}: {'; '.join(exc.errors.values())}") from None
        if result.status != QueryResult.Status.SUCCEEDED:
            raise OperatorError(f"{result.error_code or result.status}: {result.error_message or ''}")
        table = result_store().read_table(result.output_location)
        key = (ctx.job.config or {}).get("output_partition", "all")
        for partition in ctx.partitions or [key]:
            ctx.write(ctx.job.output_datasets[0], partition, table)
