"""The demo pipeline shipped with the platform: two chains side by side, each chain's source ->
its transfers, daily stats of one chain and transfers per chain per day across both, and a demo-org
enrichment with address labels.

- The chains come from the chain registry (the platform org's ``chains`` setting): ``evm`` (chain
  id 1) and ``base`` (chain id 8453), each ingested by ``ingest_<name>`` (platform org, made by
  :func:`~chains.services.chains_sync`) into its own namespace. Both are the deterministic
  ``synthetic_chain`` (``layout: evm``: the real schemas and real ERC-20 Transfer logs) on a machine
  without a node; with ``CHAINLAKE_EVM_RPC_URL`` set, ``evm`` follows that node with ``evm_rpc``
  (``CHAINLAKE_EVM_CHAIN_ID``, ``CHAINLAKE_EVM_START_BLOCK`` and ``CHAINLAKE_EVM_CONFIRMATIONS``
  tune it).
- ``evm_transfers`` and ``base_transfers`` (platform org, python): each chain's ERC-20 Transfer logs
  decoded with :func:`~chains.convert.decode_transfers`, in Python because values are uint256 and
  DuckDB has no 256-bit integers.
- ``evm_tokens`` (platform org): evm.tokens, the symbol, name and decimals of each token of
  evm.transfers: the synthetic chain's own (:func:`synthetic_token_metadata`, a python step), or
  read from the node by ``erc20_metadata`` when following one.
- ``evm_daily_transfer_stats`` (platform org, duckdb_sql): transfers per day and token on ``evm``,
  with the token's symbol and the day's amount scaled by its decimals.
- ``chain_daily_transfers`` (platform org, duckdb_sql): transfers per chain per day, both chains
  read at once with UNION ALL (every row carries its chain_id), into
  ``evm.daily_transfers_by_chain`` where every org reads it.
- ``labelled_transfers`` (demo org, address_labels): evm.transfers with the labels of the sender,
  recipient and token that the demo org may see.

:func:`demo_pipeline_seed` registers the missing chains and creates the missing jobs, and leaves
existing ones as staff left them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from chains.convert import decode_transfers
from chains.operators.token_metadata import TOKENS_SCHEMA, first_seen_blocks
from chains.registry import ChainEntry, chain_registry, registry_save
from chains.schema import TRANSFERS_SCHEMA
from chains.services import SYNTHETIC_SEED, chain_job, chains_sync
from chains.synthetic_activity import TOKEN_DECIMALS, token_addresses
from labels.models import AddressLabel
from orchestration.models import Job
from orchestration.services import job_create, job_update
from orgs.models import Org, User

DAG_NAME = "evm_demo"
BASE_CHAIN_ID = 8453
CROSS_CHAIN_DATASET = "evm.daily_transfers_by_chain"

DAILY_STATS_SQL = """
SELECT CAST(t.block_timestamp AS DATE) AS day,
       t.token_address,
       any_value(k.symbol) AS symbol,
       count(*) AS transfers,
       count(DISTINCT t.from_address) AS senders,
       count(DISTINCT t.to_address) AS recipients,
       min(t.block_number) AS first_block,
       max(t.block_number) AS last_block,
       sum(CAST(t.value AS DOUBLE) / power(10, k.decimals) ORDER BY t.block_number, t.log_index) AS amount
FROM evm.transfers t
LEFT JOIN evm.tokens k ON k.token_address = t.token_address
GROUP BY ALL
ORDER BY day, t.token_address
""".strip()
# No exact sum of value: values are uint256 decimal strings, and DuckDB's widest integer (HUGEINT,
# 128 bits) would overflow on legitimate token amounts; exact sums belong in a python step. `amount`
# is for people: the token's units (value / 10^decimals) as a DOUBLE, null when decimals are unknown,
# summed in chain order so that every rebuild adds the same floats in the same order (same bytes).

# Each chain's datasets live in its own namespace; every row carries chain_id, so reading several
# chains is a UNION ALL of the same columns.
CHAIN_DAILY_TRANSFERS_SQL = """
SELECT chain_id,
       CAST(block_timestamp AS DATE) AS day,
       count(*) AS transfers,
       count(DISTINCT token_address) AS tokens,
       min(block_number) AS first_block,
       max(block_number) AS last_block
FROM (
    SELECT chain_id, block_timestamp, token_address, block_number FROM evm.transfers
    UNION ALL
    SELECT chain_id, block_timestamp, token_address, block_number FROM base.transfers
)
GROUP BY ALL
ORDER BY day, chain_id
""".strip()


def transfers_from_logs(logs: pa.Table) -> pa.Table:
    """The python step behind evm.transfers: one evm.logs partition in, its ERC-20 Transfers out."""
    if not logs.num_columns:
        return TRANSFERS_SCHEMA.empty_table()
    return decode_transfers(logs)


def synthetic_token_metadata(transfers: pa.Table) -> pa.Table:
    """The python step behind evm.tokens on the synthetic chain: its tokens' metadata (the
    synthetic source defines them, as a contract would answer name(), symbol() and decimals()), one
    row per token seen in evm.transfers, in the layout of the erc20_metadata operator."""
    if not transfers.num_columns or not transfers.num_rows:
        return TOKENS_SCHEMA.empty_table()
    first_seen = first_seen_blocks(transfers)
    chain_id = transfers["chain_id"][0].as_py()
    known = {address: n for n, address in enumerate(token_addresses(SYNTHETIC_SEED))}
    rows = []
    for address in sorted(first_seen):
        n = known.get(address)
        rows.append(
            {
                "chain_id": chain_id,
                "token_address": address,
                "symbol": None if n is None else f"DEMO{n}",
                "name": None if n is None else f"Demo token {n}",
                "decimals": None if n is None else TOKEN_DECIMALS[n],
                "first_seen_block": first_seen[address],
                "error": "not a token of the synthetic chain" if n is None else None,
            }
        )
    return pa.Table.from_pylist(rows, schema=TOKENS_SCHEMA)


@dataclass(frozen=True)
class JobSpec:
    org: Org
    name: str
    fields: dict


def demo_chains(*, rpc_url: str | None) -> list[ChainEntry]:
    """The demo's chains: ``evm`` (a node when ``rpc_url`` is given) and a synthetic ``base``."""
    evm = ChainEntry(name="evm", chain_id=1)
    if rpc_url:
        evm = ChainEntry(
            name="evm",
            chain_id=settings.DEMO_EVM_CHAIN_ID,
            rpc_url=rpc_url,
            start_block=settings.DEMO_EVM_START_BLOCK,
            confirmations=settings.DEMO_EVM_CONFIRMATIONS,
        )
    return [evm, ChainEntry(name="base", chain_id=BASE_CHAIN_ID)]


def register_demo_chains(platform: Org, *, rpc_url: str | None) -> None:
    """Add the demo chains missing from the registry; registered ones stay as staff left them, except
    for the explicit switch to a node: with ``rpc_url`` set, ``evm`` is pointed at it."""
    registered = chain_registry(platform)
    names = {entry.name for entry in registered}
    wanted = demo_chains(rpc_url=rpc_url)
    entries = [*registered, *(entry for entry in wanted if entry.name not in names)]
    if rpc_url:
        entries = [
            wanted[0] if entry.name == "evm" and entry.rpc_url != rpc_url else entry for entry in entries
        ]
    if entries != registered:
        registry_save(entries, platform)


def tokens_spec(platform: Org, *, rpc_url: str | None) -> JobSpec:
    """evm.tokens: erc20_metadata asking ``rpc_url``, else the synthetic chain's own tokens."""
    common = {
        "input_datasets": ["evm.transfers"],
        "output_datasets": ["evm.tokens"],
        "activation": "reactive",
    }
    if rpc_url:
        return JobSpec(
            platform,
            "evm_tokens",
            {
                **common,
                "operator": "erc20_metadata",
                "runtime": "python",
                "config": {"partition_mapping": "all"},
                "source": {"url": rpc_url, "chain_id": settings.DEMO_EVM_CHAIN_ID},
            },
        )
    return JobSpec(
        platform,
        "evm_tokens",
        {
            **common,
            "operator": "python",
            "runtime": "python",
            "config": {"partition_mapping": "all"},
            "source": {"callable": "chains.demo:synthetic_token_metadata"},
        },
    )


def _transfers_job(platform: Org, namespace: str) -> JobSpec:
    logs = f"{namespace}.logs"
    lineage = [
        {"output_column": column, "input_dataset": logs, "input_column": source}
        for column, source in (
            ("token_address", "address"),
            ("from_address", "topic1"),
            ("to_address", "topic2"),
            ("value", "data"),
            ("block_number", "block_number"),
            ("transaction_hash", "transaction_hash"),
        )
    ]
    return JobSpec(
        platform,
        f"{namespace}_transfers",
        {
            "operator": "python",
            "runtime": "python",
            "input_datasets": [logs],
            "output_datasets": [f"{namespace}.transfers"],
            "activation": "reactive",
            "source": {"callable": "chains.demo:transfers_from_logs"},
            "config": {"column_lineage": lineage},
        },
    )


def pipeline_specs(platform: Org, demo: Org, *, rpc_url: str | None) -> list[JobSpec]:
    """The jobs downstream of the chains' sources."""
    return [
        _transfers_job(platform, "evm"),
        _transfers_job(platform, "base"),
        # The daily stats read evm.tokens too: they wait for its first publish.
        tokens_spec(platform, rpc_url=rpc_url),
        JobSpec(
            platform,
            "evm_daily_transfer_stats",
            {
                "operator": "duckdb_sql",
                "runtime": "sql",
                "input_datasets": ["evm.transfers", "evm.tokens"],
                "output_datasets": ["evm.daily_transfer_stats"],
                "activation": "reactive",
                "source": {"sql": DAILY_STATS_SQL},
                "config": {"partition_mapping": "all"},
            },
        ),
        JobSpec(
            platform,
            "chain_daily_transfers",
            {
                "operator": "duckdb_sql",
                "runtime": "sql",
                "input_datasets": ["evm.transfers", "base.transfers"],
                "output_datasets": [CROSS_CHAIN_DATASET],
                "activation": "reactive",
                "source": {"sql": CHAIN_DAILY_TRANSFERS_SQL},
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


_FOLLOWING_A_NODE = {"evm_tokens": "erc20_metadata"}


def _follows(job: Job, rpc_url: str) -> bool:
    return job.operator == _FOLLOWING_A_NODE[job.name] and (job.source or {}).get("url") == rpc_url


def demo_labels() -> dict[str, str]:
    """Public labels on the synthetic chain's token contracts, so the enrichment shows something."""
    return {address: f"Demo token {n}" for n, address in enumerate(token_addresses(SYNTHETIC_SEED)[:3])}


def demo_pipeline_seed(*, platform: Org, demo: Org, user: User | None, rpc_url: str | None) -> list[Job]:
    """Register the demo chains and create the demo jobs that are missing; add the demo labels when
    ``user`` is given. Idempotent. Returns the jobs, the chains' sources first.

    A chain or job that exists is left as it is: staff may have changed it in the admin, and every
    ``make run`` seeds again. The one exception is the explicit switch to a node: with ``rpc_url``
    set, the ``evm`` chain and the token metadata job, when not yet asking that URL, are pointed at it.
    """
    with transaction.atomic():
        register_demo_chains(platform, rpc_url=rpc_url)
        report = chains_sync(platform)
        if report.errors:
            raise ValidationError({f"chain {name}": problem for name, problem in report.errors.items()})
        jobs = [chain_job(platform, entry) for entry in chain_registry(platform)]
        for spec in pipeline_specs(platform, demo, rpc_url=rpc_url):
            fields = {"dag_name": DAG_NAME, **spec.fields}
            job = Job.objects.filter(org=spec.org, name=spec.name).first()
            if job is None:
                job = job_create(org=spec.org, name=spec.name, **fields)
            elif rpc_url and spec.name in _FOLLOWING_A_NODE and not _follows(job, rpc_url):
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
