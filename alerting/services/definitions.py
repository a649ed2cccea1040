"""Alert definitions: validated saves, the evaluator job behind them, silence, enable/disable,
backtest and test-fire."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from orchestration.models import Job
from orchestration.services import job_create, job_set_active
from orgs.models import Org, User
from platform_site.db import uuid7
from versioning import datasets
from versioning import duckdb_sandbox as sandbox
from versioning.models import PartitionVersion

from ..channels import channel_errors
from ..dsl import ConditionError, compile_condition
from ..models import AlertDefinition, AlertEvent
from ..selectors import dataset_columns
from .deliveries import deliveries_create
from .evaluation import Compiled, dataset_head, event_fields, scan_partitions

EVALUATOR_OPERATOR = "alert_evaluator"
EVALUATOR_DAG = "alerts"
STATE_COLUMN = "_alert_state"


# -- validation -------------------------------------------------------------------------------------
def definition_errors(
    *, org: Org, condition: Any, channels: Any, previous: AlertDefinition | None = None
) -> dict[str, str]:
    """Field errors of a definition (``condition.where.all[0].column``, ``channels[0].url`` …).

    With ``previous`` (the stored row), only what changed is checked: toggling ``enabled`` or the
    visibility of a definition whose dataset has since changed its schema stays possible."""
    errors: dict[str, str] = {}
    if previous is not None and previous.org_id == org.pk:
        if previous.condition == condition:
            return channel_errors(channels) if previous.channels != channels else {}
        if previous.channels == channels:
            channels = []
    dataset = condition.get("dataset") if isinstance(condition, dict) else None
    schema = None
    if isinstance(dataset, str) and dataset:
        problem = datasets.read_error(org.slug, dataset)
        if problem:
            errors["condition.dataset"] = problem
        else:
            schema = dataset_columns(dataset)
    if "condition.dataset" not in errors:
        try:
            compile_condition(condition, schema)
        except ConditionError as exc:
            errors.update({f"condition.{path}": message for path, message in exc.errors.items()})
    errors.update(channel_errors(channels))
    return errors


def _validate(definition: AlertDefinition) -> None:
    previous = AlertDefinition.objects.filter(pk=definition.pk).first() if definition.pk else None
    errors = definition_errors(
        org=definition.org, condition=definition.condition, channels=definition.channels, previous=previous
    )
    if not isinstance(definition.name, str) or not definition.name.strip():
        errors["name"] = "a name is required"
    if errors:
        raise ValidationError(errors)


# -- the evaluator job ------------------------------------------------------------------------------
def evaluator_names(org: Org, dataset: str) -> tuple[str, str]:
    """The org's evaluator job for ``dataset`` and the dataset it records matches in."""
    flat = re.sub(r"[^a-z0-9_]", "_", dataset.replace(".", "__"))
    return f"alerts__{flat}", f"{org.slug}.alert_matches__{flat}"


def evaluator_job_ensure(*, org: Org, dataset: str) -> Job | None:
    """One reactive, incremental ``alert_evaluator`` job per (org, dataset) while an enabled
    definition watches it; paused when none does."""
    name, output = evaluator_names(org, dataset)
    wanted = AlertDefinition.objects.filter(org=org, enabled=True, condition__dataset=dataset).exists()
    job = Job.objects.filter(org=org, name=name).first()
    if job is None:
        if not wanted:
            return None
        return job_create(
            org=org,
            name=name,
            dag_name=EVALUATOR_DAG,
            operator=EVALUATOR_OPERATOR,
            runtime="python",
            activation="reactive",
            execution_strategy="incremental",
            config={"cursor_column": STATE_COLUMN},
            input_datasets=[dataset],
            output_datasets=[output],
            timeout_seconds=1800,
        )
    if job.active != wanted:
        job_set_active(job=job, active=wanted)
    return job


def _after_save(definition: AlertDefinition, previous_dataset: str | None) -> None:
    dataset = definition.condition.get("dataset")
    evaluator_job_ensure(org=definition.org, dataset=dataset)
    if previous_dataset and previous_dataset != dataset:
        evaluator_job_ensure(org=definition.org, dataset=previous_dataset)


# -- writes -----------------------------------------------------------------------------------------
def alert_definition_create(
    *,
    org: Org,
    user: User,
    name: str,
    condition: dict,
    channels: list | None = None,
    visibility: str = "org",
    enabled: bool = True,
) -> AlertDefinition:
    definition = AlertDefinition(
        org=org,
        user=user,
        name=name,
        condition=condition,
        channels=channels or [],
        visibility=visibility,
        enabled=enabled,
    )
    return alert_definition_save(definition=definition)


def alert_definition_save(*, definition: AlertDefinition) -> AlertDefinition:
    """Validate (condition against the dataset's catalog schema, channels) and save; keeps the
    evaluator job in step. Raises ValidationError with one message per field."""
    _validate(definition)
    previous = (
        AlertDefinition.objects.filter(pk=definition.pk).values_list("condition", flat=True).first()
        if definition.pk
        else None
    )
    previous_dataset = previous.get("dataset") if isinstance(previous, dict) else None
    with transaction.atomic():
        definition.save()
        _after_save(definition, previous_dataset)
    return definition


def alert_definition_set_enabled(*, definition: AlertDefinition, enabled: bool) -> AlertDefinition:
    with transaction.atomic():
        AlertDefinition.objects.filter(pk=definition.pk).update(enabled=enabled, updated_at=timezone.now())
        definition.enabled = enabled
        evaluator_job_ensure(org=definition.org, dataset=definition.condition.get("dataset"))
    return definition


def alert_definition_silence(*, definition: AlertDefinition, until: datetime | None) -> AlertDefinition:
    """Silence until ``until`` (None lifts the silence): events are recorded, nothing delivered."""
    if until is not None and timezone.is_naive(until):
        raise ValidationError({"until": "a time with a time zone"})
    condition = dict(definition.condition)
    condition["silenced_until"] = until.isoformat() if until else None
    AlertDefinition.objects.filter(pk=definition.pk).update(condition=condition, updated_at=timezone.now())
    definition.condition = condition
    return definition


# -- backtest and test-fire -------------------------------------------------------------------------
@dataclass
class BacktestResult:
    partitions: int
    rows_scanned: int
    events: int
    sample: list[dict]
    readable: bool = True  # False: the reader may not read the dataset, so nothing was read


def alert_definition_backtest(
    *,
    definition: AlertDefinition,
    reader: User,
    first: str | None = None,
    last: str | None = None,
    sample_size: int = 10,
) -> BacktestResult:
    """Run the definition over current partitions ``first``..``last`` (keys, inclusive; None is
    open) as ``reader`` and report what it would have raised; creates nothing.

    The dataset is read with the reader's rights: a public definition of another org over a dataset
    the reader may not read shows no rows (``readable`` is False), and personal columns are masked
    at the source."""
    dataset = definition.condition.get("dataset")
    if not isinstance(dataset, str) or not datasets.may_read_dataset(reader, dataset):
        return BacktestResult(0, 0, 0, [], readable=False)
    schema = dataset_columns(dataset)
    try:
        condition = compile_condition(definition.condition, schema)
    except ConditionError as exc:
        raise ValidationError({f"condition.{k}": v for k, v in exc.errors.items()}) from None
    partitions = PartitionVersion.objects.filter(dataset=dataset).order_by("partition_key")
    if first:
        partitions = partitions.filter(partition_key__gte=first)
    if last:
        partitions = partitions.filter(partition_key__lte=last)
    partitions = list(partitions)
    result = scan_partitions(
        compiled=[Compiled(definition, condition)],
        partitions=partitions,
        head=dataset_head(dataset),
        respect_creation=False,
        limits=sandbox.SandboxLimits.for_org(definition.org),
    )
    keys = {event_fields(m, dataset=dataset)["dedupe_key"] for m in result.matches}
    sample = []
    for match in result.matches[:sample_size]:
        fields = event_fields(match, dataset=dataset)
        fields.pop("dedupe_key")
        sample.append(fields)
    return BacktestResult(len(partitions), result.rows_scanned, len(keys), sample)


def alert_definition_test_fire(*, definition: AlertDefinition, user: User) -> AlertEvent:
    """Send one clearly marked sample event to every channel now (even when disabled or silenced):
    the newest matching row of the last partitions if there is one, else a placeholder.

    The row is read as ``user`` (who fires) and as the definition's owner (whose channels receive
    it): unless both may read the dataset, the sample carries no row."""
    dataset = definition.condition.get("dataset")
    fields: dict[str, Any] = {"source_dataset": dataset, "payload": {}}
    readers = [user, definition.user]
    readable = isinstance(dataset, str) and all(
        r is not None and datasets.may_read_dataset(r, dataset) for r in readers
    )
    recent = (
        list(PartitionVersion.objects.filter(dataset=dataset).order_by("-partition_key")[:3])
        if readable
        else []
    )
    try:
        condition = compile_condition(definition.condition, dataset_columns(dataset))
        result = scan_partitions(
            compiled=[Compiled(definition, condition)],
            partitions=recent,
            head=dataset_head(dataset),
            respect_creation=False,
            limits=sandbox.SandboxLimits.for_org(definition.org),
        )
        if result.matches:
            fields = event_fields(result.matches[-1], dataset=dataset)
        severity = condition.severity
    except ConditionError:
        severity = definition.condition.get("severity", "info")
    fields.pop("dedupe_key", None)
    event_id = uuid7()
    payload = {
        **(fields.get("payload") or {}),
        "kind": "sample",
        "sample": True,
        "note": "TEST: a sample event sent by test-fire; nothing happened on chain",
        "definition": {"id": str(definition.pk), "name": definition.name},
        "fired_by": str(user) if user is not None else None,
    }
    fields["payload"] = payload
    with transaction.atomic():
        event = AlertEvent.objects.create(
            id=event_id,
            org_id=definition.org_id,
            alert_definition=definition,
            severity=severity if severity in ("info", "warning", "critical") else "info",
            dedupe_key=f"sample:{event_id}",
            **{
                k: v
                for k, v in fields.items()
                if k
                in {
                    "chain_id",
                    "block_hash",
                    "tx_hash",
                    "block_number",
                    "source_dataset",
                    "partition_key",
                    "cursor_value",
                    "payload",
                }
            },
        )
        deliveries_create(events=[event], definition=definition)
    return event
