"""The demo pipeline shipped with the platform: chain source -> evm.transfers -> daily stats, and a
demo-org enrichment with address labels.

- ``evm_source`` (platform org) writes evm.blocks / evm.transactions / evm.logs: the deterministic
  ``synthetic_chain`` source (``layout: evm``, so the data has the real schemas and real ERC-20
  Transfer logs) on a machine without a node, or ``evm_rpc`` following a real node when
  ``CHAINLAKE_EVM_RPC_URL`` is set (``CHAINLAKE_EVM_CHAIN_ID``, ``CHAINLAKE_EVM_START_BLOCK`` and
  ``CHAINLAKE_EVM_CONFIRMATIONS`` tune it).
- ``evm_transfers`` (platform org, python): ERC-20 Transfer logs decoded with
  :func:`~chains.convert.decode_transfers`, in Python because values are uint256 and
  DuckDB has no 256-bit integers.
- ``evm_daily_transfer_stats`` (platform org, duckdb_sql): transfers per day and token.
- ``labelled_transfers`` (demo org, address_labels): evm.transfers with the labels of the sender,
  recipient and token that the demo org may see.

:func:`demo_pipeline_seed` creates the missing ones and leaves existing ones as staff left them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from django.conf import settings
from django.db import transaction

from chains.convert import decode_transfers
from chains.operators.synthetic_chain import _address
from chains.schema import TRANSFERS_SCHEMA
from labels.models import AddressLabel
from orchestration.models import Job
from orchestration.services import job_create, job_update
from orgs.models import Org, User

DAG_NAME = "evm_demo"
SYNTHETIC_END_BLOCK = 4999
SYNTHETIC_SEED = "demo"

DAILY_STATS_SQL = """
SELECT CAST(block_timestamp AS DATE) AS day,
       token_address,
       count(*) AS transfers,
       count(DISTINCT from_address) AS senders,
       count(DISTINCT to_address) AS recipients,
       min(block_number) AS first_block,
       max(block_number) AS last_block
FROM evm.transfers
GROUP BY ALL
ORDER BY day, token_address
""".strip()
# No sum of value: values are uint256 decimal strings, and DuckDB's widest integer (HUGEINT, 128
# bits) would overflow on legitimate token amounts. Exact sums belong in a python step.


def transfers_from_logs(logs: pa.Table) -> pa.Table:
    """The python step behind evm.transfers: one evm.logs partition in, its ERC-20 Transfers out."""
    if not logs.num_columns:
        return TRANSFERS_SCHEMA.empty_table()
    return decode_transfers(logs)


@dataclass(frozen=True)
class JobSpec:
    org: Org
    name: str
    fields: dict


def source_spec(platform: Org, *, rpc_url: str | None) -> JobSpec:
    """The chain source: evm_rpc on ``rpc_url``, else the synthetic chain."""
    outputs = ["evm.blocks", "evm.transactions", "evm.logs"]
    if rpc_url:
        return JobSpec(
            platform,
            "evm_source",
            {
                "operator": "evm_rpc",
                "runtime": "source",
                "output_datasets": outputs,
                "execution_strategy": "incremental",
                "activation": "schedule",
                "config": {"schedule": "* * * * *"},
                "source": {
                    "url": rpc_url,
                    "chain_id": settings.DEMO_EVM_CHAIN_ID,
                    "start_block": settings.DEMO_EVM_START_BLOCK,
                    "confirmations": settings.DEMO_EVM_CONFIRMATIONS,
                    "max_blocks_per_task": 2000,
                },
            },
        )
    return JobSpec(
        platform,
        "evm_source",
        {
            "operator": "synthetic_chain",
            "runtime": "source",
            "output_datasets": outputs,
            "execution_strategy": "partitioned",
            "activation": "reactive",
            "config": {"end_block": SYNTHETIC_END_BLOCK, "seed": SYNTHETIC_SEED, "layout": "evm"},
            "source": {},
        },
    )


def pipeline_specs(platform: Org, demo: Org, *, rpc_url: str | None) -> list[JobSpec]:
    lineage = [
        {"output_column": column, "input_dataset": "evm.logs", "input_column": source}
        for column, source in (
            ("token_address", "address"),
            ("from_address", "topic1"),
            ("to_address", "topic2"),
            ("value", "data"),
            ("block_number", "block_number"),
            ("transaction_hash", "transaction_hash"),
        )
    ]
    return [
        source_spec(platform, rpc_url=rpc_url),
        JobSpec(
            platform,
            "evm_transfers",
            {
                "operator": "python",
                "runtime": "python",
                "input_datasets": ["evm.logs"],
                "output_datasets": ["evm.transfers"],
                "activation": "reactive",
                "source": {"callable": "chains.demo:transfers_from_logs"},
                "config": {"column_lineage": lineage},
            },
        ),
        JobSpec(
            platform,
            "evm_daily_transfer_stats",
            {
                "operator": "duckdb_sql",
                "runtime": "sql",
                "input_datasets": ["evm.transfers"],
                "output_datasets": ["evm.daily_transfer_stats"],
                "activation": "reactive",
                "source": {"sql": DAILY_STATS_SQL},
                "config": {"partition_mapping": "all"},
            },
        ),
        JobSpec(
            demo,
            "labelled_transfers",
            {
                "operator": "address_labels",
                "runtime": "python",
                "input_datasets": ["evm.transfers"],
                "output_datasets": [f"{demo.slug}.labelled_transfers"],
                "activation": "reactive",
                "config": {"address_columns": ["from_address", "to_address", "token_address"]},
            },
        ),
    ]


def _follows(job: Job, rpc_url: str) -> bool:
    return job.operator == "evm_rpc" and (job.source or {}).get("url") == rpc_url


def demo_labels() -> dict[str, str]:
    """Public labels on the synthetic chain's token contracts, so the enrichment shows something."""
    return {_address(SYNTHETIC_SEED, "token", n): f"Demo token {n}" for n in range(3)}


def demo_pipeline_seed(*, platform: Org, demo: Org, user: User | None, rpc_url: str | None) -> list[Job]:
    """Create the demo jobs that are missing; add the demo labels when ``user`` is given.
    Idempotent. Returns the jobs.

    A job that exists is left as it is: staff may have changed it in the admin, and every
    ``make run`` seeds again. The one exception is the explicit switch to a node: with ``rpc_url``
    set, a source not yet following that URL is pointed at it.
    """
    jobs = []
    with transaction.atomic():
        for spec in pipeline_specs(platform, demo, rpc_url=rpc_url):
            fields = {"dag_name": DAG_NAME, **spec.fields}
            job = Job.objects.filter(org=spec.org, name=spec.name).first()
            if job is None:
                job = job_create(org=spec.org, name=spec.name, **fields)
            elif rpc_url and spec.name == "evm_source" and not _follows(job, rpc_url):
                job = job_update(job=job, **fields)
            jobs.append(job)
        if user is not None:
            for address, label in demo_labels().items():
                AddressLabel.objects.get_or_create(
                    org=platform,
                    address=address,
                    label=label,
                    defaults={"user": user, "visibility": "public"},
                )
    return jobs
