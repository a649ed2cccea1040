"""Invalidations travel down the DAG: what a task rewrote because of an invalidation invalidates,
in turn, what was built from its output.

One event is recorded once per output dataset (and partition), whatever became of an earlier record
of it: a dataset nobody reads closes its invalidation at once, and a rebuild spread over several
tasks, or reaching a job through two inputs, must not record the same event again. The identity of
an event is its ``origin``: a reorg is the same reorg whichever dataset it came through (its content
names the chain, the fork block and the hashes); any other event is its first invalidation.
"""

from __future__ import annotations

from django.db.models import Q

from orchestration.models import Job, Task
from versioning.models import DataInvalidation
from versioning.row_filter import schema_error
from versioning.selectors import SUPERSEDED_KEY
from versioning.services import invalidation_create, invalidation_superseded_extend


def event_origin(source: DataInvalidation) -> dict:
    """The first event behind ``source``, carried down the DAG in ``source_event.origin``."""
    event = source.source_event or {}
    if "origin" in event:
        return event["origin"]
    origin = {k: v for k, v in event.items() if k != SUPERSEDED_KEY}
    if origin.get("type") != "reorg":
        origin["invalidation"] = str(source.id)
    return origin


def invalidations_propagate(
    *, job: Job, task: Task, outputs, superseded: dict[str, dict[str, str]] | None = None
) -> None:
    """Record, for each invalidation the task processed, one on each output it rewrote: the same
    row filter when it fits the output's schema (covering what the replaced files held too), else
    one per rewritten partition. Runs inside the publish transaction."""
    ids = (task.input_versions or {}).get("invalidations") or []
    if not ids or not outputs:
        return
    superseded = superseded or {}
    for source in DataInvalidation.objects.filter(id__in=ids).order_by("created_at"):
        origin = event_origin(source)
        event = {"type": "propagated", "invalidation": str(source.id), "job": str(job.id), "origin": origin}
        reason = f"propagated from {source.dataset}"
        for dataset in job.output_datasets:
            written = sorted({o.partition_key for o in outputs if o.dataset == dataset})
            if not written:
                continue
            same = DataInvalidation.objects.filter(
                Q(source_event__origin=origin) | Q(source_event__invalidation=str(source.id)), dataset=dataset
            )
            schema = next(o.schema for o in outputs if o.dataset == dataset)
            if source.scope == "rows" and schema_error(source.row_filter, schema) is None:
                earlier = same.filter(scope="rows", row_filter=source.row_filter).first()
                if earlier is None:
                    invalidation_create(
                        dataset=dataset,
                        scope="rows",
                        row_filter=source.row_filter,
                        reason=reason,
                        source_event=event,
                        superseded=superseded.get(dataset),
                    )
                elif superseded.get(dataset):
                    # Another task of the same rebuild: what its replaced files held counts too.
                    invalidation_superseded_extend(invalidation=earlier, superseded=superseded[dataset])
                continue
            done = set(same.filter(scope="partition").values_list("partition_key", flat=True))
            for key in written:
                if key not in done:
                    invalidation_create(
                        dataset=dataset,
                        scope="partition",
                        partition_key=key,
                        reason=reason,
                        source_event=event,
                    )
