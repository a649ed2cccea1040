"""Keep one ingestion job per registered chain: :func:`chains_sync`.

For each entry of the chain registry (:mod:`chains.registry`) the platform org has a source job
writing ``<name>.blocks``, ``<name>.transactions`` and ``<name>.logs``: ``evm_rpc`` following the
entry's node on a schedule, or, without ``rpc_url``, the ``synthetic_chain`` demo source. The job
is ``ingest_<name>``; a platform source job that already writes ``<name>.blocks`` (one made before
the registry, such as an older demo's ``evm_source``) is taken over instead of being duplicated.

The registry owns what it names (node, chain id, confirmations, reorg window, partition width,
start and end block, the outputs); everything else on the job (schedule, scaling, timeouts, a
synthetic chain's length) stays as staff left it in the admin, and a job whose owned fields already
match is not saved at all, so syncing again changes nothing. Jobs ``ingest_<name>`` of chains no
longer registered are paused (their data stays); registering the chain again resumes them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from chains.operators.evm_rpc import SOURCE_DEFAULTS
from chains.registry import ChainEntry, chain_registry
from chains.schema import BLOCKS_KIND, dataset_name, source_datasets
from orchestration.models import Job
from orchestration.services import job_create, job_update
from orchestration.services.jobs import job_set_active
from orgs.models import Org, platform_org

logger = logging.getLogger(__name__)

DAG_NAME = "chains"
JOB_PREFIX = "ingest_"
SOURCE_OPERATORS = ("evm_rpc", "synthetic_chain")
RPC_SCHEDULE = "* * * * *"
RPC_MAX_BLOCKS_PER_TASK = 2000
SYNTHETIC_END_BLOCK = 4999  # a synthetic chain registered without end_block: 5,000 blocks
SYNTHETIC_SEED = "demo"

# What a source's unset keys mean, so a key the registry sets to its default is not a change.
_SYNTHETIC_DEFAULTS: dict[str, Any] = {"chain_id": 1, "start_block": 0, "partition_size": 1000}


@dataclass
class SyncReport:
    """What :func:`chains_sync` did, by job name; ``errors`` maps a chain to why its job could not
    be made to match (the other chains are synced all the same)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (
                ("created", self.created),
                ("updated", self.updated),
                ("resumed", self.resumed),
                ("paused", self.paused),
                ("unchanged", self.unchanged),
            )
            if names
        ]
        return "; ".join(parts) or "no chains registered, no ingestion jobs"


def _owned_source(entry: ChainEntry) -> dict[str, Any]:
    return {
        "url": entry.rpc_url,
        "chain_id": entry.chain_id,
        "confirmations": entry.confirmations,
        "start_block": entry.start_block,
        "partition_width": entry.partition_width,
        "max_reorg_depth": entry.reorg_window,
        "end_block": entry.end_block,
    }


def _owned_synthetic_config(entry: ChainEntry) -> dict[str, Any]:
    owned = {
        "chain_id": entry.chain_id,
        "start_block": entry.start_block,
        "partition_size": entry.partition_width,
    }
    if entry.end_block is not None:
        owned["end_block"] = entry.end_block
    return owned


def job_fields(entry: ChainEntry) -> dict[str, Any]:
    """Every field of a new ingestion job for ``entry``."""
    outputs = list(source_datasets(entry.name))
    if entry.synthetic:
        config = {
            "end_block": SYNTHETIC_END_BLOCK,
            "seed": SYNTHETIC_SEED,
            "layout": "evm",
            **_owned_synthetic_config(entry),
        }
        return {
            "operator": "synthetic_chain",
            "runtime": "source",
            "output_datasets": outputs,
            "execution_strategy": "partitioned",
            "activation": "reactive",
            "config": config,
            "source": {},
        }
    source = {k: v for k, v in _owned_source(entry).items() if v is not None}
    return {
        "operator": "evm_rpc",
        "runtime": "source",
        "output_datasets": outputs,
        "execution_strategy": "incremental",
        "activation": "schedule",
        "config": {"schedule": RPC_SCHEDULE},
        "source": {**source, "max_blocks_per_task": RPC_MAX_BLOCKS_PER_TASK},
    }


def _merged(current: dict, owned: dict[str, Any], defaults: dict[str, Any]) -> dict:
    """``current`` with the owned keys set, keeping keys whose effective value already matches."""
    merged = dict(current)
    for key, value in owned.items():
        if {**defaults, **current}.get(key) == value:
            continue
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def changes_for(job: Job, entry: ChainEntry) -> dict[str, Any]:
    """The fields of ``job`` to change so that it ingests ``entry`` (empty: it already does)."""
    fields = job_fields(entry)
    if job.operator != fields["operator"]:
        return fields  # a node registered for a synthetic chain, or the other way round
    changes: dict[str, Any] = {}
    if list(job.output_datasets) != fields["output_datasets"]:
        changes["output_datasets"] = fields["output_datasets"]
    if entry.synthetic:
        config = _merged(job.config or {}, _owned_synthetic_config(entry), _SYNTHETIC_DEFAULTS)
        if config != job.config:
            changes["config"] = config
    else:
        source = _merged(job.source or {}, _owned_source(entry), SOURCE_DEFAULTS)
        if source != job.source:
            changes["source"] = source
    return changes


def chain_job(org: Org, entry: ChainEntry) -> Job | None:
    """The ingestion job of ``entry``: ``ingest_<name>``, else a platform source job that already
    writes the chain's blocks (made before the registry)."""
    job = Job.objects.filter(org=org, name=entry.job_name).first()
    if job is not None:
        return job
    return (
        Job.objects.filter(
            org=org,
            operator__in=SOURCE_OPERATORS,
            output_datasets__contains=[dataset_name(entry.name, BLOCKS_KIND)],
        )
        .order_by("-active", "created_at")
        .first()
    )


def _describe(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(f"{key}: {' '.join(messages)}" for key, messages in exc.message_dict.items())
    return " ".join(exc.messages)


def _sync_one(org: Org, entry: ChainEntry, report: SyncReport) -> None:
    job = chain_job(org, entry)
    if job is None:
        job_create(org=org, name=entry.job_name, dag_name=DAG_NAME, **job_fields(entry))
        report.created.append(entry.job_name)
        return
    if changes := changes_for(job, entry):
        job = job_update(job=job, **changes)
        report.updated.append(job.name)
    if not job.active:
        job_set_active(job=job, active=True)
        report.resumed.append(job.name)
    elif not changes:
        report.unchanged.append(job.name)


def chains_sync(org: Org | None = None) -> SyncReport:
    """Create, update, resume or pause the platform's ingestion jobs to match the chain registry.
    A registry that fails its checks raises ValidationError and changes nothing; a chain whose job
    cannot be saved (another job already writes its namespace, say) is reported in ``errors``."""
    org = org or platform_org()
    entries = chain_registry(org)
    report = SyncReport()
    for entry in entries:
        try:
            with transaction.atomic():
                _sync_one(org, entry, report)
        except ValidationError as exc:
            report.errors[entry.name] = _describe(exc)
    registered = {entry.job_name for entry in entries}
    removed = Job.objects.filter(
        org=org, name__startswith=JOB_PREFIX, operator__in=SOURCE_OPERATORS, active=True
    ).exclude(name__in=registered)
    for job in removed:
        job_set_active(job=job, active=False)
        report.paused.append(job.name)
    if report.errors:
        logger.warning("chain sync: %s", "; ".join(f"{k}: {v}" for k, v in report.errors.items()))
    return report
