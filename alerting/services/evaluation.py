"""Evaluating definitions over partitions: one DuckDB scan per partition for every definition on the
dataset, events inserted idempotently, storms grouped into digests, silences honoured.

Choices where the product text is silent:

* A definition watches data published from its creation on: a partition is evaluated for the
  definitions that existed when that version of it was published. History is what backtest is for.
* A storm: ``alert_rate_limit_per_minute`` (org settings) is the most events of one definition that
  are delivered per wall-clock minute. Past it, the events are still recorded (so re-evaluation
  stays idempotent) but marked ``digested`` and not delivered on their own; one ``digest`` event per
  definition and minute carries their count and a sample, and is delivered instead.
* A silenced definition (``condition.silenced_until`` in the future) records its events, marked
  ``silenced``, and delivers nothing.
* Rows on a block a reorg orphaned (its hash is among the ``old_hashes`` of a recent reorg
  invalidation) never raise an event, even when a downstream dataset has not been rebuilt yet.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from django.db import connection, transaction
from django.utils import timezone

from orgs.settings_schema import org_settings
from pii.sql_masking import masked_select, personal_columns
from platform_site.db import uuid7
from versioning import duckdb_sandbox as sandbox
from versioning.datasets import may_read_dataset
from versioning.models import DataInvalidation, PartitionVersion
from versioning.storage import Storage, lake

from ..dsl import UINT_PREFIX, Condition, ConditionError, compile_condition, source_sql
from ..models import AlertDefinition, AlertEvent
from ..sql_condition import bind_dataset
from .deliveries import deliveries_create

log = logging.getLogger(__name__)

ORPHAN_MEMORY = timedelta(days=7)
SAMPLE_SIZE = 5


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


@dataclass
class Compiled:
    definition: AlertDefinition
    condition: Condition


def compile_definitions(definitions: list[AlertDefinition], schema: dict | None) -> list[Compiled]:
    """The definitions that compile against the dataset's current schema; one that no longer does
    (a column was dropped) is skipped with a warning instead of stopping the others."""
    compiled = []
    for definition in definitions:
        try:
            compiled.append(Compiled(definition, compile_condition(definition.condition, schema)))
        except ConditionError as exc:
            log.warning("alert definition %s does not compile: %s", definition.pk, exc)
    return compiled


def partition_dataset(storage: Storage, location: str) -> pads.Dataset:
    return pads.dataset(storage._path(location), filesystem=storage.fs, format="parquet")


def dataset_head(dataset: str, storage: Storage | None = None) -> int | None:
    """The highest block_number of ``dataset`` (its last partition by key), or None."""
    last = PartitionVersion.objects.filter(dataset=dataset).order_by("-partition_key").first()
    if last is None:
        return None
    part = partition_dataset(storage or lake(), last.location)
    if "block_number" not in part.schema.names:
        return None
    value = pc.max(part.to_table(columns=["block_number"])["block_number"]).as_py()
    return None if value is None else int(value)


def scan_sql(compiled: list[Compiled], head: int | None) -> tuple[str, list[Any]]:
    """One query over the view ``part`` flagging, per row, which definitions it matches.

    The filter is the OR of every predicate (short-circuited per row); the per-definition flags are
    computed only for the rows that pass it. The padded uint256 columns are derived once per row in
    a materialised step: inlined, DuckDB would derive them again inside every predicate (30x slower
    with a hundred definitions).
    """
    predicates, params = [], []
    for item in compiled:
        predicate = item.condition.predicate
        sql, values = predicate.sql, list(predicate.params)
        if item.condition.confirmations:
            limit = (head if head is not None else -1) - item.condition.confirmations
            sql = f"({sql} AND coalesce(block_number <= ?, FALSE))"
            values.append(limit)
        predicates.append((sql, values))
    uint_columns = set().union(*(c.condition.uint_columns for c in compiled))
    if len(compiled) == 1:  # one definition: a plain filtered scan, each column derived once anyway
        sql, values = predicates[0]
        return f"SELECT *, TRUE AS __m0 FROM {source_sql('part', uint_columns)} WHERE {sql}", values
    prefix, source = "", "part"
    if uint_columns:
        prefix, source = (
            f"WITH src AS MATERIALIZED (SELECT * FROM {source_sql('part', uint_columns)}) ",
            "src",
        )
    flags = ", ".join(f"{sql} AS __m{i}" for i, (sql, _) in enumerate(predicates))
    where = " OR ".join(sql for sql, _ in predicates)
    params = [v for _, values in predicates for v in values] * 2  # flags, then the filter
    return f"{prefix}SELECT *, {flags} FROM {source} WHERE {where}", params


@dataclass
class Match:
    item: Compiled
    row: dict
    partition_key: str
    version: datetime


@dataclass
class ScanResult:
    matches: list[Match] = field(default_factory=list)
    rows_scanned: int = 0
    unconfirmed: list[str] = field(default_factory=list)  # partitions with rows not yet confirmed


def scan_partitions(
    *,
    compiled: list[Compiled],
    partitions: list[PartitionVersion],
    head: int | None,
    storage: Storage | None = None,
    respect_creation: bool = True,
    orphaned: set[str] | None = None,
    limits: sandbox.SandboxLimits | None = None,
    on_interrupt=None,
) -> ScanResult:
    """Evaluate every compiled definition over each partition, one scan per partition, in the
    sandbox under the org's DuckDB ``limits``. ``on_interrupt`` (a task context's hook) gets the
    connection's interrupt, so a timeout, cancel or lost lease stops the scan where it computes."""
    storage = storage or lake()
    result = ScanResult()
    max_confirmations = max((c.condition.confirmations for c in compiled), default=0)
    con = sandbox.sandbox_connect(limits or sandbox.SandboxLimits())
    forget = on_interrupt(con.interrupt) if on_interrupt is not None else None
    try:
        for pv in partitions:
            active = [c for c in compiled if not respect_creation or c.definition.created_at <= pv.version]
            if not active:
                continue
            part = partition_dataset(storage, pv.location)
            result.rows_scanned += part.count_rows()
            bind_partition(con, part, personal_columns(pv.dataset))
            found: list[tuple[Compiled, list[dict]]] = []
            scanned = [c for c in active if c.condition.sql is None]
            if scanned:  # every DSL definition in one scan
                found.extend(_scan_dsl(con, scanned, head))
            for item in active:  # an SQL definition is its own statement over the dataset's view
                if item.condition.sql is not None:
                    try:
                        found.append((item, _run_sql(con, item, head, dataset=pv.dataset)))
                    except duckdb.InterruptException:
                        raise  # a timeout, cancel or lost lease stops the whole run
                    except duckdb.Error as exc:
                        # A statement that fails on this data (a cast, a division) must not keep the
                        # other definitions on the dataset from raising their events.
                        log.warning(
                            "alert definition %s failed on %s: %s",
                            item.definition.pk,
                            pv.partition_key,
                            sandbox.error_message(exc),
                        )
            if max_confirmations and head is not None and "block_number" in part.schema.names:
                newest = con.sql("SELECT max(block_number) FROM part").fetchall()[0][0]
                if newest is not None and newest > head - max_confirmations:
                    result.unconfirmed.append(pv.partition_key)
            con.execute("DROP VIEW part")
            con.unregister(RAW_PARTITION)
            for item, rows in found:
                for row in rows:
                    if orphaned and row.get("block_hash") in orphaned:
                        continue
                    result.matches.append(Match(item, row, pv.partition_key, pv.version))
    finally:
        if forget is not None:
            forget()
        con.close()
    return result


# The partition's raw relation: no statement can name it (a condition's SQL names only its dataset,
# the DSL compiles to SQL over ``part``), and ``part`` shows its personal columns masked.
RAW_PARTITION = "__partition_raw"


def bind_partition(con: duckdb.DuckDBPyConnection, part: pads.Dataset, personal: dict) -> None:
    """Make ``part`` the partition as alerts read it: registered personal columns masked at the
    source, so events, payloads, samples and deliveries only ever hold masked values."""
    con.register(RAW_PARTITION, part)
    view = masked_select(RAW_PARTITION, columns=part.schema.names, personal=personal)
    con.execute(f"CREATE OR REPLACE TEMP VIEW part AS {view}")


def readable_definitions(definitions: list[AlertDefinition], dataset: str) -> list[AlertDefinition]:
    """The definitions whose owner may read ``dataset`` today: background evaluation reads with the
    rights of the definition's owner, so an owner who left the org or lost the right raises nothing."""
    return [d for d in definitions if d.user is not None and may_read_dataset(d.user, dataset)]


def _fetch(relation) -> pa.Table:
    # duckdb 2 names it to_arrow_table; 1.x had fetch_arrow_table.
    return (getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table)()


def _scan_dsl(con, active: list[Compiled], head: int | None) -> list[tuple[Compiled, list[dict]]]:
    """The rows of the view ``part`` each DSL definition matches, from one scan."""
    sql, params = scan_sql(active, head)
    table = _fetch(con.sql(sql, params=params))
    if not table.num_rows:
        return []
    data_columns = [n for n in table.column_names if not n.startswith(("__m", UINT_PREFIX))]
    flags = [table[f"__m{i}"].to_pylist() for i in range(len(active))]
    rows = table.select(data_columns).to_pylist()
    return [
        (item, [row for row, flag in zip(rows, flags[index], strict=True) if flag])
        for index, item in enumerate(active)
    ]


def _run_sql(con, item: Compiled, head: int | None, *, dataset: str) -> list[dict]:
    """The rows an SQL definition returns over the partition in ``part``, bound as the view named
    like the dataset; its confirmations filter the output like a DSL definition's filter its rows."""
    bind_dataset(con, dataset, "part")
    sql, params = f"SELECT * FROM ({item.condition.sql}) AS __alert", []
    if item.condition.confirmations:
        sql += " WHERE coalesce(block_number <= ?, FALSE)"
        params.append((head if head is not None else -1) - item.condition.confirmations)
    return _fetch(con.sql(sql, params=params)).to_pylist()


def dedupe_key(definition: AlertDefinition, condition: Condition, row: dict) -> str:
    """Hash of the definition and its dedupe columns, plus the block hash when the row has one, so
    the same row on a re-mined block is a new event."""
    values = [jsonable(row.get(c)) for c in condition.dedupe]
    material = json.dumps([str(definition.pk), values, row.get("block_hash")], sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()


def event_fields(match: Match, *, dataset: str) -> dict:
    row, condition, definition = match.row, match.item.condition, match.item.definition
    block_number = row.get("block_number")
    return {
        "severity": condition.severity,
        "chain_id": row.get("chain_id"),
        "block_hash": row.get("block_hash"),
        "tx_hash": row.get("transaction_hash") or row.get("tx_hash"),
        "block_number": block_number,
        "source_dataset": dataset,
        "partition_key": match.partition_key,
        "cursor_value": str(block_number) if block_number is not None else match.version.isoformat(),
        "payload": {
            "kind": "event",
            "definition": {"id": str(definition.pk), "name": definition.name},
            "row": {c: jsonable(row.get(c)) for c in condition.payload},
        },
        "dedupe_key": dedupe_key(definition, condition, row),
    }


INSERT_SQL = """
INSERT INTO alert_events (id, org_id, alert_definition_id, producer_job_id, producer_task_id, severity,
    chain_id, block_hash, tx_hash, block_number, source_dataset, partition_key, cursor_value, payload,
    dedupe_key, created_at)
SELECT t.id, t.org_id, t.definition_id, %(job)s, %(task)s, t.severity, t.chain_id, t.block_hash, t.tx_hash,
       t.block_number, %(dataset)s, t.partition_key, t.cursor_value, t.payload::jsonb, t.dedupe_key, now()
FROM unnest(%(ids)s::uuid[], %(orgs)s::uuid[], %(definitions)s::uuid[], %(severities)s::text[],
            %(chains)s::bigint[], %(block_hashes)s::text[], %(tx_hashes)s::text[], %(blocks)s::bigint[],
            %(keys)s::text[], %(cursors)s::text[], %(payloads)s::text[], %(dedupes)s::text[])
     AS t(id, org_id, definition_id, severity, chain_id, block_hash, tx_hash, block_number, partition_key,
          cursor_value, payload, dedupe_key)
ON CONFLICT (org_id, dedupe_key) DO NOTHING
RETURNING id
"""


def events_insert(
    *, rows: list[tuple[AlertDefinition, dict]], dataset: str, job_id=None, task_id=None
) -> list[AlertEvent]:
    """Insert events; an existing ``(org, dedupe_key)`` is skipped. Returns the new events."""
    if not rows:
        return []
    ids = [uuid7() for _ in rows]
    params = {
        "job": job_id,
        "task": task_id,
        "dataset": dataset,
        "ids": ids,
        "orgs": [d.org_id for d, _ in rows],
        "definitions": [d.pk for d, _ in rows],
        "severities": [f["severity"] for _, f in rows],
        "chains": [f["chain_id"] for _, f in rows],
        "block_hashes": [f["block_hash"] for _, f in rows],
        "tx_hashes": [f["tx_hash"] for _, f in rows],
        "blocks": [f["block_number"] for _, f in rows],
        "keys": [f["partition_key"] for _, f in rows],
        "cursors": [f["cursor_value"] for _, f in rows],
        "payloads": [json.dumps(f["payload"], default=str) for _, f in rows],
        "dedupes": [f["dedupe_key"] for _, f in rows],
    }
    with connection.cursor() as cursor:
        cursor.execute(INSERT_SQL, params)
        inserted = {row[0] for row in cursor.fetchall()}
    return list(AlertEvent.objects.filter(pk__in=inserted).order_by("id"))


def _window_start(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def _route(definition: AlertDefinition, condition: Condition, events: list[AlertEvent]) -> None:
    """Deliver new events, or mark them silenced, or group what exceeds the rate into a digest."""
    if not events:
        return
    now = timezone.now()
    if condition.silenced_until and condition.silenced_until > now:
        _mark(events, {"silenced": True})
        return
    limit = org_settings(definition.org.settings)["alert_rate_limit_per_minute"]
    window = _window_start(now)
    already = (
        AlertEvent.objects.filter(alert_definition=definition, created_at__gte=window, payload__kind="event")
        .exclude(pk__in=[e.pk for e in events])
        .exclude(payload__has_key="digested")
        .exclude(payload__has_key="silenced")
        .count()
    )
    room = max(0, limit - already)
    deliver, digest = events[:room], events[room:]
    deliveries_create(events=deliver, definition=definition)
    if digest:
        _mark(digest, {"digested": True})
        _digest(definition, condition, digest, window)


def _mark(events: list[AlertEvent], flags: dict) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE alert_events SET payload = payload || %s::jsonb WHERE id = ANY(%s)",
            [json.dumps(flags), [e.pk for e in events]],
        )


DIGEST_SQL = """
INSERT INTO alert_events (id, org_id, alert_definition_id, producer_job_id, producer_task_id, severity,
    chain_id, block_number, source_dataset, payload, dedupe_key, created_at)
VALUES (%(id)s, %(org)s, %(definition)s, %(job)s, %(task)s, %(severity)s, %(chain)s, %(block)s,
        %(dataset)s, %(payload)s::jsonb, %(dedupe)s, now())
ON CONFLICT (org_id, dedupe_key) DO UPDATE
SET payload = alert_events.payload || jsonb_build_object(
        'count', (alert_events.payload->>'count')::bigint + %(count)s,
        'last_block_number', %(block)s)
RETURNING id, (xmax = 0) AS inserted
"""


def _digest(definition: AlertDefinition, condition: Condition, events: list[AlertEvent], window) -> None:
    first = events[0]
    payload = {
        "kind": "digest",
        "definition": {"id": str(definition.pk), "name": definition.name},
        "window_start": window.isoformat(),
        "count": len(events),
        "sample": [e.payload.get("row") for e in events[:SAMPLE_SIZE]],
        "first_event": str(first.pk),
        "last_block_number": events[-1].block_number,
        "note": "past the org's alert_rate_limit_per_minute; these events are grouped here",
    }
    with connection.cursor() as cursor:
        cursor.execute(
            DIGEST_SQL,
            {
                "id": uuid7(),
                "org": definition.org_id,
                "definition": definition.pk,
                "job": first.producer_job_id,
                "task": first.producer_task_id,
                "severity": condition.severity,
                "chain": first.chain_id,
                "block": events[-1].block_number,
                "dataset": first.source_dataset,
                "payload": json.dumps(payload, default=str),
                "dedupe": f"digest:{definition.pk}:{window.isoformat()}",
                "count": len(events),
            },
        )
        digest_id, inserted = cursor.fetchone()
    if inserted:
        deliveries_create(events=[AlertEvent.objects.get(pk=digest_id)], definition=definition)


def events_record(*, matches: list[Match], dataset: str, job_id=None, task_id=None) -> list[AlertEvent]:
    """Insert the events of ``matches`` (idempotent) and route the new ones to their channels."""
    rows = [(m.item.definition, event_fields(m, dataset=dataset)) for m in matches]
    by_definition = {m.item.definition.pk: m.item for m in matches}
    created: list[AlertEvent] = []
    with transaction.atomic():
        new = events_insert(rows=rows, dataset=dataset, job_id=job_id, task_id=task_id)
        grouped: dict = {}
        for event in new:
            grouped.setdefault(event.alert_definition_id, []).append(event)
        for definition_id, events in grouped.items():
            item = by_definition[definition_id]
            _route(item.definition, item.condition, events)
        created.extend(new)
    return created


def orphaned_hashes(*, since: datetime | None = None) -> set[str]:
    """Block hashes recent reorg invalidations declared orphaned."""
    since = since or timezone.now() - ORPHAN_MEMORY
    hashes: set[str] = set()
    for event in DataInvalidation.objects.filter(
        source_event__type="reorg", created_at__gte=since
    ).values_list("source_event", flat=True):
        hashes.update(h.lower() for h in event.get("old_hashes") or [] if isinstance(h, str))
    return hashes
