"""The registry of personal data: which dataset columns and model fields hold it, and how to mask each.

Two sources feed it:

- **Dataset columns** are declared by the job that produces the dataset, in
  ``config.pii_columns: {"column": "strategy"}`` (applying to every dataset the job writes; checked
  when the job is saved), or in the ``PII_DATASET_COLUMNS`` setting (``{"dataset": {"column":
  "strategy"}}``) for data no job of ours produces. Only active jobs count: a dataset is what its
  active producer declares.
- **Model fields** are in the ``PII_MODEL_FIELDS`` setting (``{"app_label.Model": {"field":
  "strategy"}}``); ``orgs.User.email`` is there by default. Their access-log "dataset" is the table.

Strategies (see :mod:`pii.masking`): ``redact`` (the value is replaced), ``hash`` (keyed
HMAC-SHA256: equal values stay equal, so joins and group-bys on the masked column still work),
``partial`` (``j***@example.com``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.db import models


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
    from orchestration.models import Job

    found = []
    jobs = Job.objects.filter(active=True, config__has_key="pii_columns").select_related("org")
    for job in jobs.only("org__slug", "name", "config", "output_datasets"):
        declared = job.config.get("pii_columns")
        if pii_columns_error(declared):
            continue  # refused on save; a row edited behind the services' back declares nothing
        for dataset in job.output_datasets:
            for column, strategy in declared.items():
                found.append(PiiColumn(dataset, column, Strategy(strategy), f"job {job.org.slug}/{job.name}"))
    return found


def dataset_columns() -> dict[tuple[str, str], PiiColumn]:
    """(dataset, column) -> its registration, from the settings and the active jobs."""
    registered: dict[tuple[str, str], PiiColumn] = {}
    for entry in [*_settings_dataset_columns(), *_job_dataset_columns()]:
        current = registered.get((entry.dataset, entry.column))
        if current is None or STRICTNESS[entry.strategy] > STRICTNESS[current.strategy]:
            registered[(entry.dataset, entry.column)] = entry
    return registered


def fields_of_model(model: type[models.Model]) -> dict[str, Strategy]:
    """Registered personal fields of ``model`` -> strategy (empty for most models)."""
    declared = settings.PII_MODEL_FIELDS.get(model._meta.label, {})
    return {field: Strategy(strategy) for field, strategy in declared.items()}


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
