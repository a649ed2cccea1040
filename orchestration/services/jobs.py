"""Job create/update: validation, config_hash, DAG edges and cycle rejection, column lineage.

The admin's ``save_model`` and the API both call :func:`job_create` / :func:`job_update`; every
problem is a ``ValidationError`` with a ``field -> message`` dict (HTTP 400 in the API).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pyarrow as pa
from croniter import croniter
from django.core.exceptions import ValidationError
from django.db import transaction

from orchestration.models import ColumnLineage, Job
from orchestration.operators import get_operator, operator_names
from orchestration.operators.duckdb_sql import sql_binding_error
from orgs.models import Org
from versioning import datasets
from versioning.models import DatasetCursor
from versioning.storage import StorageError

HASHED_FIELDS = ("operator", "runtime", "source", "config", "update_strategy", "unique_key")
EDITABLE_FIELDS = (
    "name",
    "dag_name",
    "activation",
    "runtime",
    "operator",
    "source",
    "execution_strategy",
    "idle_timeout",
    "config",
    "input_datasets",
    "output_datasets",
    "update_strategy",
    "unique_key",
    "scaling",
    "timeout_seconds",
    "heartbeat_timeout_seconds",
    "max_attempts",
    "active",
)
SCALING_KEYS = {"max_concurrency": 1, "priority": None, "batch_size": 1}
DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")
# The planner's high-water mark of a partitioned job on an input (see orchestration.selectors).
CATALOG_WATERMARK = "_catalog_version"

# Checks of config keys owned by apps above orchestration (``pii_columns`` by pii), registered from
# their AppConfig.ready: each takes the job and returns field -> message for what it refuses.
CONFIG_VALIDATORS: list[Callable[[Job], dict[str, str]]] = []


def register_config_validator(validator: Callable[[Job], dict[str, str]]) -> None:
    if validator not in CONFIG_VALIDATORS:
        CONFIG_VALIDATORS.append(validator)


def compute_config_hash(job: Job) -> str:
    """sha256 of the canonical JSON of what decides a job's output: a change re-builds its outputs."""
    payload = {name: getattr(job, name) for name in HASHED_FIELDS}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse_duration(text: str) -> timedelta:
    """``"90s"``, ``"5m"``, ``"1h30m"``, ``"2d"`` → timedelta; ValueError otherwise."""
    match = DURATION.match(text or "")
    if not text or not text.strip() or not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration like 30s, 5m, 1h30m or 2d")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def scaling_of(job: Job) -> dict[str, int]:
    scaling = job.scaling or {}
    return {
        "max_concurrency": int(scaling.get("max_concurrency") or 1_000_000),
        "priority": int(scaling.get("priority") or 0),
        "batch_size": int(scaling.get("batch_size") or 1),
    }


def _validate(job: Job, org: Org) -> None:
    errors: dict[str, str] = {}
    try:
        job.full_clean(exclude=["config_hash", "org"])
    except ValidationError as exc:
        errors.update({field: " ".join(messages) for field, messages in exc.message_dict.items()})

    operator = get_operator(job.operator or "")
    if operator is None:
        errors["operator"] = f"unknown operator {job.operator!r}; known: {', '.join(operator_names())}"
    elif job.runtime not in operator.runtimes:
        errors["runtime"] = f"operator {job.operator} runs with runtime {', '.join(operator.runtimes)}"

    for field in ("input_datasets", "output_datasets", "unique_key"):
        value = getattr(job, field)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            errors[field] = "a list of names"
    if "input_datasets" not in errors:
        problems = [e for d in job.input_datasets if (e := datasets.read_error(org.slug, d))]
        if problems:
            errors["input_datasets"] = "; ".join(problems)
    if "output_datasets" not in errors:
        problems = [e for d in job.output_datasets if (e := datasets.write_error(org.slug, d))]
        if not job.output_datasets:
            problems.append("a job writes at least one dataset")
        if set(job.output_datasets) & set(job.input_datasets or []):
            problems.append("a job cannot read its own output")
        if problems:
            errors["output_datasets"] = "; ".join(problems)

    if job.update_strategy == Job.UpdateStrategy.UPSERT and not job.unique_key:
        errors["unique_key"] = "an upsert job needs unique_key"
    if not isinstance(job.config, dict):
        errors["config"] = "config is an object"
    elif job.activation == Job.Activation.SCHEDULE:
        schedule = job.config.get("schedule")
        if not isinstance(schedule, str) or not croniter.is_valid(schedule):
            errors["config"] = 'a scheduled job needs config.schedule, a cron expression like "*/5 * * * *"'
    if isinstance(job.config, dict) and job.config.get("on_schema_change", "accept") not in (
        "accept",
        "fail",
        "rebuild",
    ):
        errors["config"] = "config.on_schema_change is accept, fail or rebuild"
    if isinstance(job.config, dict) and "config" not in errors:
        for validator in CONFIG_VALIDATORS:
            errors.update(validator(job))
    if not isinstance(job.source, dict):
        errors["source"] = "source is an object"
    if job.idle_timeout:
        try:
            parse_duration(job.idle_timeout)
        except ValueError as exc:
            errors["idle_timeout"] = str(exc)
    elif job.activation == Job.Activation.CONTINUOUS:
        errors["idle_timeout"] = "a continuous job needs idle_timeout (e.g. 10m)"

    if not isinstance(job.scaling, dict):
        errors["scaling"] = "scaling is an object"
    else:
        unknown = set(job.scaling) - set(SCALING_KEYS)
        bad = [
            k
            for k, minimum in SCALING_KEYS.items()
            if k in job.scaling
            and (
                not isinstance(job.scaling[k], int)
                or isinstance(job.scaling[k], bool)
                or (minimum is not None and job.scaling[k] < minimum)
            )
        ]
        if unknown:
            errors["scaling"] = f"unknown keys {', '.join(sorted(unknown))} (use {', '.join(SCALING_KEYS)})"
        elif bad:
            errors["scaling"] = f"{', '.join(bad)}: integers (max_concurrency and batch_size at least 1)"

    if operator is not None and not errors:
        errors.update(operator.validate(job))
    if not errors:
        errors.update(_lineage_errors(job))
    if not errors:
        errors.update(_graph_errors(job))
    if errors:
        raise ValidationError(errors)


def _known_schema(dataset: str) -> pa.Schema | None:
    """The dataset's schema when the catalog has one and its file is readable; None means "unknown":
    no rule may rely on it."""
    try:
        return datasets.dataset_schema(dataset)
    except (StorageError, OSError):
        return None


def _lineage_errors(job: Job) -> dict[str, str]:
    """Lineage names only what the job really reads: declared edges (``config.column_lineage``) name
    one of the job's own inputs and, when the catalog knows that input's columns, a real column; a
    SQL job's columns must exist in its inputs when every input's columns are known."""
    schemas = {dataset: _known_schema(dataset) for dataset in job.input_datasets}
    columns = {d: (schema.names if schema is not None else None) for d, schema in schemas.items()}
    declared = (job.config or {}).get("column_lineage")
    if isinstance(declared, list):
        problems = []
        for edge in declared:
            if not isinstance(edge, dict):
                continue
            dataset, column = edge.get("input_dataset"), edge.get("input_column")
            names = (edge.get("output_column"), column)
            if not all(isinstance(name, str) and name for name in names):
                problems.append("output_column and input_column are names")
            elif dataset not in job.input_datasets:
                problems.append(f"{dataset!r} is not one of this job's input_datasets")
            elif columns[dataset] is not None and column not in columns[dataset]:
                problems.append(f"{dataset} has no column {column!r}")
        if problems:
            return {"config": "config.column_lineage: " + "; ".join(dict.fromkeys(problems))}
    sql = (job.source or {}).get("sql") if job.runtime == Job.Runtime.SQL else None
    known = job.input_datasets and all(schema is not None for schema in schemas.values())
    problem = sql_binding_error(sql, schemas) if isinstance(sql, str) and known else None
    return {"source": f"{problem} (input columns: {_describe(columns)})"} if problem else {}


def _describe(columns: dict[str, list[str] | None]) -> str:
    return "; ".join(f"{dataset}: {', '.join((names or [])[:40])}" for dataset, names in columns.items())


def _graph_errors(job: Job) -> dict[str, str]:
    """A second active producer of a dataset, or a cycle through the DAG edges."""
    if not job.active:
        return {}
    others = list(
        Job.objects.filter(active=True)
        .exclude(pk=job.pk)
        .values_list("id", "name", "input_datasets", "output_datasets")
    )
    for _, name, _, outputs in others:
        clash = set(outputs) & set(job.output_datasets)
        if clash:
            return {"output_datasets": f"{', '.join(sorted(clash))} is already produced by active job {name}"}
    # Walk downstream from this job's outputs; reaching one of its inputs closes a cycle.
    consumers: dict[str, list[tuple[str, list[str]]]] = {}
    for _, name, inputs, outputs in others:
        for dataset in inputs:
            consumers.setdefault(dataset, []).append((name, outputs))
    targets = set(job.input_datasets)
    seen: set[str] = set()
    frontier = [(d, [job.name]) for d in job.output_datasets]
    while frontier:
        dataset, path = frontier.pop()
        if dataset in targets:
            return {"input_datasets": f"cycle: {' -> '.join([*path, job.name])} (through {dataset})"}
        if dataset in seen:
            continue
        seen.add(dataset)
        for name, outputs in consumers.get(dataset, []):
            frontier.extend((o, [*path, name]) for o in outputs)
    return {}


def _save(job: Job, org: Org, *, previous_hash: str | None) -> Job:
    _validate(job, org)
    job.config_hash = compute_config_hash(job)
    with transaction.atomic():
        job.save()
        _store_lineage(job)
        if previous_hash is not None and previous_hash != job.config_hash:
            # Every output partition is stale now: the planner must look at all inputs again.
            DatasetCursor.objects.filter(job=job).delete()
    return job


def _store_lineage(job: Job) -> None:
    operator = get_operator(job.operator)
    edges = set(operator.column_lineage(job)) if operator else set()
    ColumnLineage.objects.filter(job=job).delete()
    ColumnLineage.objects.filter(output_dataset__in=job.output_datasets).delete()
    ColumnLineage.objects.bulk_create(
        [
            ColumnLineage(output_dataset=o, output_column=oc, input_dataset=i, input_column=ic, job=job)
            for o, oc, i, ic in sorted(edges)
        ],
        ignore_conflicts=True,
    )


def job_create(
    *, org: Org, name: str, output_datasets: list[str], operator: str, runtime: str, **fields: Any
) -> Job:
    """Validate and save a new job of ``org``; see module docstring for errors."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({f: "not a job field" for f in unknown})
    fields.setdefault("dag_name", "default")
    job = Job(
        org=org, name=name, output_datasets=output_datasets, operator=operator, runtime=runtime, **fields
    )
    return _save(job, org, previous_hash=None)


def job_update(*, job: Job, **fields: Any) -> Job:
    """Change ``fields`` of ``job``; a changed config_hash makes every output partition stale."""
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({f: "not a job field" for f in unknown})
    previous_hash = Job.objects.filter(pk=job.pk).values_list("config_hash", flat=True).first()
    for name, value in fields.items():
        setattr(job, name, value)
    return _save(job, job.org, previous_hash=previous_hash)


def job_save(*, job: Job) -> Job:
    """Validate and save an in-memory job (new or changed), as the admin form builds it."""
    previous_hash = Job.objects.filter(pk=job.pk).values_list("config_hash", flat=True).first()
    return _save(job, job.org, previous_hash=previous_hash)


def job_validate(*, job: Job) -> None:
    """Raise the ValidationError (field -> message) that saving ``job`` would raise."""
    _validate(job, job.org)


def job_set_active(*, job: Job, active: bool) -> Job:
    """Pause or resume: a paused job is never planned nor dispatched; running tasks finish."""
    if active and not job.active:
        job.active = True
        errors = _graph_errors(job)
        if errors:
            job.active = False
            raise ValidationError(errors)
    job.active = active
    job.save(update_fields=["active", "updated_at"])
    return job
