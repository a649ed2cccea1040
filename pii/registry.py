"""The registry of personal data: which dataset columns and model fields hold it, and how to mask each.

Two sources feed it:

- **Dataset columns** are declared by the job that produces the dataset, in
  ``config.pii_columns: {"column": "strategy"}`` (applying to every dataset the job writes; checked
  when the job is saved), or in the ``PII_DATASET_COLUMNS`` setting (``{"dataset": {"column":
  "strategy"}}``) for data no job of ours produces. Every job counts, paused or not: pausing a job
  stops new writes, the data it wrote is still in the catalog and still personal.
- **Column lineage carries them on**: a job that reads a registered column and writes a column from
  it (``SELECT *``, ``upper(email) AS e``, a Python job's declared ``column_lineage``) registers
  that output column too, with the strictest strategy of its registered sources, down the whole DAG
  (``declared_by`` names the source: ``lineage from alpha.people.email``).
- **Model fields** are in the ``PII_MODEL_FIELDS`` setting (``{"app_label.Model": {"field":
  "strategy"}}``); ``orgs.User.email`` is there by default. Their access-log "dataset" is the table.

Strategies (see :mod:`pii.masking`): ``redact`` (the value is replaced), ``hash`` (keyed
HMAC-SHA256: equal values stay equal, so joins and group-bys on the masked column still work),
``partial`` (``j***@example.com``).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.db import connection, models

from orchestration.models import ColumnLineage, Job
from orchestration.operators.lineage import EVERY_COLUMN
from platform_site.admin_lookups import resolve


class Strategy(models.TextChoices):
    REDACT = "redact", "Redact"
    HASH = "hash", "Keyed hash (joins still work)"
    PARTIAL = "partial", "Partial (j***@example.com)"


# The strictest strategy wins when a result column derives from several registered columns.
STRICTNESS = {Strategy.PARTIAL: 0, Strategy.HASH: 1, Strategy.REDACT: 2}


@dataclass(frozen=True)
class PiiColumn:
    """One registered column: ``dataset`` is a dataset name or, for a model field, its table."""

    dataset: str
    column: str
    strategy: Strategy
    declared_by: str


def pii_columns_error(value) -> str | None:
    """Why ``config.pii_columns`` of a job is not acceptable, or None."""
    if not isinstance(value, dict):
        return 'config.pii_columns is an object of column -> strategy, e.g. {"email": "hash"}'
    for column, strategy in value.items():
        if not isinstance(column, str) or not column.strip():
            return "config.pii_columns: column names are non-empty strings"
        if strategy not in Strategy.values:
            return f"config.pii_columns.{column}: strategy is one of {', '.join(Strategy.values)}"
    return None


def job_config_errors(job) -> dict[str, str]:
    """The job-save validator (registered with the job services by this app's ``ready``)."""
    config = job.config if isinstance(job.config, dict) else {}
    if "pii_columns" not in config:
        return {}
    error = pii_columns_error(config["pii_columns"])
    return {"config": error} if error else {}


def _settings_dataset_columns() -> list[PiiColumn]:
    return [
        PiiColumn(dataset, column, Strategy(strategy), "settings")
        for dataset, columns in settings.PII_DATASET_COLUMNS.items()
        for column, strategy in columns.items()
    ]


def _job_dataset_columns() -> list[PiiColumn]:
    found = []
    jobs = Job.objects.filter(config__has_key="pii_columns").select_related("org")
    for job in jobs.only("org__slug", "name", "config", "output_datasets"):
        declared = job.config.get("pii_columns")
        if pii_columns_error(declared):
            continue  # refused on save; a row edited behind the services' back declares nothing
        for dataset in job.output_datasets:
            for column, strategy in declared.items():
                found.append(PiiColumn(dataset, column, Strategy(strategy), f"job {job.org.slug}/{job.name}"))
    return found


def _lineage_edges() -> dict[str, list[tuple[str, str, str]]]:
    """input dataset -> [(input column, output dataset, output column)], every stored edge."""
    edges: dict[str, list[tuple[str, str, str]]] = {}
    rows = ColumnLineage.objects.values_list(
        "input_dataset", "input_column", "output_dataset", "output_column"
    )
    for input_dataset, input_column, output_dataset, output_column in rows.iterator(chunk_size=5000):
        edges.setdefault(input_dataset, []).append((input_column, output_dataset, output_column))
    return edges


def _stricter(entry: PiiColumn, current: PiiColumn | None) -> bool:
    return current is None or STRICTNESS[entry.strategy] > STRICTNESS[current.strategy]


def _follow_lineage(registered: dict[tuple[str, str], PiiColumn]) -> None:
    """Register, in place, every column derived from a registered one, transitively.

    A strategy only ever gets stricter and there are finitely many columns, so the walk ends (even
    on a cycle, which the job services refuse anyway)."""
    edges = _lineage_edges()
    pending = list(registered.values())
    while pending:
        source = pending.pop()
        for input_column, output_dataset, output_column in edges.get(source.dataset, ()):
            if input_column == EVERY_COLUMN:
                output_column = source.column  # ``SELECT *`` keeps the name
            elif input_column != source.column:
                continue
            origin = f"lineage from {source.dataset}.{source.column}"
            derived = PiiColumn(output_dataset, output_column, source.strategy, origin)
            if _stricter(derived, registered.get((output_dataset, output_column))):
                registered[(output_dataset, output_column)] = derived
                pending.append(derived)


def _registry_stamp() -> tuple:
    """Changes whenever a job is created, saved (which also rewrites its lineage), paused or deleted."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), max(updated_at) FROM jobs")
        return tuple(cursor.fetchone())


_cache_lock = threading.Lock()
_cache: dict = {}


def _build_dataset_columns() -> dict[tuple[str, str], PiiColumn]:
    registered: dict[tuple[str, str], PiiColumn] = {}
    for entry in [*_settings_dataset_columns(), *_job_dataset_columns()]:
        if _stricter(entry, registered.get((entry.dataset, entry.column))):
            registered[(entry.dataset, entry.column)] = entry
    _follow_lineage(registered)
    return registered


def dataset_columns() -> dict[tuple[str, str], PiiColumn]:
    """(dataset, column) -> its registration, from the settings, the jobs and column lineage.

    Called on every query bind, so it costs one small query while no job changed: the result is kept
    per process under a stamp of the jobs table (count and latest ``updated_at``; saving a job, which
    rewrites its lineage, moves it) and the setting. The returned dict is shared: do not change it.
    """
    key = (
        connection.settings_dict["NAME"],
        _registry_stamp(),
        json.dumps(settings.PII_DATASET_COLUMNS, sort_keys=True, default=str),
    )
    with _cache_lock:
        if _cache.get("key") == key:
            return _cache["value"]
    value = _build_dataset_columns()
    with _cache_lock:
        _cache.update(key=key, value=value)
    return value


def fields_of_model(model: type[models.Model]) -> dict[str, Strategy]:
    """Registered personal fields of ``model`` -> strategy (empty for most models)."""
    declared = settings.PII_MODEL_FIELDS.get(model._meta.label, {})
    return {field: Strategy(strategy) for field, strategy in declared.items()}


def personal_field_of_path(model: type[models.Model], path: str) -> str | None:
    """``"orgs.User.email"`` when the lookup path ``path`` on ``model`` (``email__startswith``,
    ``user__email``) ends on a registered personal field; None otherwise."""
    field, _ = resolve(model, path)
    if field is None or field.is_relation or not hasattr(field, "model"):
        return None
    if field.name in fields_of_model(field.model):
        return f"{field.model._meta.label}.{field.name}"
    return None


def model_fields() -> list[tuple[type[models.Model], str, Strategy]]:
    """Every registered model field, as (model, field name, strategy)."""
    return [
        (apps.get_model(label), field, Strategy(strategy))
        for label, fields in settings.PII_MODEL_FIELDS.items()
        for field, strategy in fields.items()
    ]


def registry() -> list[PiiColumn]:
    """Everything registered, model fields first, for the admin page and the command."""
    entries = [
        PiiColumn(model._meta.db_table, field, strategy, f"settings ({model._meta.label})")
        for model, field, strategy in model_fields()
    ]
    return entries + sorted(dataset_columns().values(), key=lambda c: (c.dataset, c.column))
