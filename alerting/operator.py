"""``alert_evaluator``: the orchestration operator that evaluates a dataset's alert definitions.

One reactive, incremental job per (org, dataset) (created by the definition services). Each run:

1. retracts the org's events on that dataset whose blocks reorg invalidations orphaned (reading
   ``data_invalidations`` itself, from the last run's mark on);
2. scans the partitions published or rewritten since the last run, plus those that still held
   unconfirmed rows, once each for every enabled definition on the dataset;
3. inserts the events (idempotent per ``dedupe_key``) and routes them to deliveries;
4. writes, per scanned partition, its matches to ``<org>.alert_matches__<dataset>`` (definition,
   dedupe key, block) — the job's lake output — and keeps its state (head, partitions awaiting
   confirmations, reorg mark) in the job's cursor.

Registered into the orchestration registry from ``AlertingConfig.ready`` (orchestration never
imports alerting).
"""

from __future__ import annotations

import json
from datetime import datetime

import pyarrow as pa

from orchestration.operators import register
from orchestration.operators.base import Operator, TaskContext
from versioning import duckdb_sandbox as sandbox
from versioning.models import PartitionVersion

from .models import AlertDefinition
from .selectors import dataset_columns
from .services.evaluation import (
    compile_definitions,
    dataset_head,
    dedupe_key,
    events_record,
    orphaned_hashes,
    readable_definitions,
    scan_partitions,
)
from .services.retraction import reorgs_process

MATCHES_SCHEMA = pa.schema(
    [
        pa.field("alert_definition_id", pa.string()),
        pa.field("dedupe_key", pa.string()),
        pa.field("block_number", pa.int64()),
        pa.field("block_hash", pa.string()),
    ]
)


def _state(ctx: TaskContext, dataset: str) -> dict:
    try:
        state = json.loads(ctx.cursor(dataset) or "{}")
    except ValueError:
        state = {}
    return state if isinstance(state, dict) else {}


@register
class AlertEvaluatorOperator(Operator):
    name = "alert_evaluator"
    runtimes = ("python",)

    def validate(self, job) -> dict[str, str]:
        errors = {}
        if len(job.input_datasets) != 1:
            errors["input_datasets"] = "alert_evaluator watches exactly one dataset"
        if len(job.output_datasets) != 1:
            errors["output_datasets"] = "alert_evaluator records its matches in one dataset"
        if job.execution_strategy != "incremental":
            errors["execution_strategy"] = "alert_evaluator is incremental"
        return errors

    def run(self, ctx: TaskContext) -> None:
        job = ctx.job
        dataset, output = job.input_datasets[0], job.output_datasets[0]
        state = _state(ctx, dataset)
        since = datetime.fromisoformat(state["reorgs_until"]) if state.get("reorgs_until") else None
        _, reorgs_until = reorgs_process(org_id=job.org_id, dataset=dataset, since=since)

        definitions = list(
            AlertDefinition.objects.filter(
                org=job.org, enabled=True, condition__dataset=dataset
            ).select_related("org", "user", "user__org")
        )
        definitions = readable_definitions(definitions, dataset)
        keys = {p.partition_key for p in ctx.inputs.get(dataset, [])} | set(state.get("pending") or [])
        partitions = list(PartitionVersion.objects.filter(dataset=dataset, partition_key__in=keys))
        head = dataset_head(dataset, ctx.storage)
        compiled = compile_definitions(definitions, dataset_columns(dataset)) if partitions else []
        result = scan_partitions(
            compiled=compiled,
            partitions=sorted(partitions, key=lambda p: p.partition_key),
            head=head,
            storage=ctx.storage,
            orphaned=orphaned_hashes(),
            limits=sandbox.SandboxLimits.for_org(job.org),
            on_interrupt=ctx.on_interrupt,
        )
        events_record(matches=result.matches, dataset=dataset, job_id=job.pk, task_id=ctx.task.pk)

        by_key: dict[str, list] = {p.partition_key: [] for p in partitions}
        for match in result.matches:
            by_key[match.partition_key].append(
                (
                    str(match.item.definition.pk),
                    dedupe_key(match.item.definition, match.item.condition, match.row),
                    match.row.get("block_number"),
                    match.row.get("block_hash"),
                )
            )
        for key, rows in by_key.items():
            columns = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
            table = pa.table(
                [pa.array(c, f.type) for c, f in zip(columns, MATCHES_SCHEMA, strict=True)],
                schema=MATCHES_SCHEMA,
            )
            ctx.write(output, key, table)
        new_state = {
            "head": head,
            "pending": sorted(result.unconfirmed) if compiled else sorted(state.get("pending") or []),
            "reorgs_until": reorgs_until.isoformat() if reorgs_until else state.get("reorgs_until"),
        }
        ctx.advance_cursor(dataset, "_alert_state", json.dumps(new_state))
