"""Running SQL: prepare (guard, bind names, parameters, hash), the result cache, and execution.

States (``query_results.status``): a request creates a ``queued`` result; the runner moves it to
``running`` and then to ``succeeded`` (only after the file is written and its row count read back),
``failed`` (with ``error_code``) or leaves it ``cancelled`` when a cancel came first. A cache hit is
a result that is ``succeeded`` at once and points at the file of the result it reuses.

The cache key (``sql_hash``) is sha256 over the normalised SQL (sqlglot's rendering: whitespace,
keyword case and comments do not count), the canonical parameters and, when the rows depend on who
asks (the query reads ``address_labels``, or asked to unmask personal data),
the user's id: such a result is only ever reused by the same user, so nobody is served what they
could not read fresh. A succeeded result is reused when it is no older than ``max_age`` (if given),
within the org's retention, and no dataset it read has a partition version newer than the result;
results that read ``address_labels`` are never reused (labels change without versions), though
identical concurrent runs still share one execution.

Identical runs (same org and ``sql_hash``) execute once: under a transaction-scoped advisory lock a
runner either finds a reusable result, finds another runner of the same SQL in flight and waits for
it, or becomes the one that runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import duckdb
from django.db import connection, connections, transaction
from django.db.models import Max, Q
from django.utils import timezone
from sqlglot import exp

from orgs.models import Org
from orgs.settings_schema import org_settings
from pii.masking import UnmaskDenied, unmask_allowed
from pii.registry import dataset_columns
from pii.services import access_log_write
from versioning import duckdb_sandbox as sandbox
from versioning.datasets import may_read_dataset
from versioning.models import PartitionVersion
from versioning.storage import result_store

from ..binding import LABELS_VIEW, bind, personal_columns_read, unknown_dataset
from ..models import QueryResult, SavedQuery
from ..parameters import ParameterError, bind_parameters, canonical
from ..result_files import ResultTooLarge, ResultWriter, result_location, stored_row_count

log = logging.getLogger(__name__)

Status = QueryResult.Status
LIVE = (Status.QUEUED, Status.RUNNING)
WAIT_POLL_SECONDS = 0.1
# A run is presumed lost (worker killed) this long after its timeout.
LOST_GRACE_SECONDS = 30
# Rows per Arrow batch fetched from DuckDB: one DuckDB vector. Batches live outside DuckDB's memory
# limit, so they stay small however wide the rows; the writer gathers them into row groups.
FETCH_BATCH_ROWS = 2048
# The org setting that caps a result's size in each mode (a scheduled run is an async one).
RESULT_SIZE_SETTINGS = {
    QueryResult.Mode.SYNC: "query_max_sync_result_mb",
    QueryResult.Mode.ASYNC: "query_max_async_result_mb",
    QueryResult.Mode.SCHEDULED: "query_max_async_result_mb",
    QueryResult.Mode.EXPORT: "query_max_export_result_mb",
}
# How often a running query looks for its cancel (a database read): a cancel stops it within a second.
CANCEL_POLL_SECONDS = 0.4


class QueryRefused(Exception):
    """The request is refused before anything runs: ``code`` and ``field -> message`` errors."""

    def __init__(self, code: str, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.code = code
        self.errors = errors


@dataclass
class PreparedQuery:
    sql: str
    parameters: dict
    statement: exp.Expression
    values: dict[str, Any]
    tables: set[str]
    reads_labels: bool = False
    sql_hash: str = ""
    source_sql: str = ""  # as the caller wrote it (what a queued run prepares again)
    unmask: bool = False  # the caller's explicit request to see personal data unmasked

    @property
    def datasets(self) -> list[str]:
        return sorted(self.tables - {LABELS_VIEW})


def query_prepare(*, user, sql: str, parameters: dict | None = None, unmask: bool = False) -> PreparedQuery:
    """Guard, resolve and hash ``sql`` for ``user``, or :class:`QueryRefused` (nothing recorded).

    ``unmask`` without the right to unmask personal data is ``permission_denied``."""
    try:
        unmask = unmask_allowed(user, requested=unmask)
    except UnmaskDenied:
        raise QueryRefused("permission_denied", {"unmask": "you may not unmask personal data"}) from None

    try:
        statement = sandbox.parse_read_only(sql)
        tables = sandbox.referenced_tables(statement)
        for name in sorted(tables - {LABELS_VIEW}):
            if not may_read_dataset(user, name):
                raise unknown_dataset(name)
    except sandbox.SqlRejected as exc:
        raise QueryRefused(exc.code, {"sql": exc.message}) from None
    try:
        values = bind_parameters(sandbox.parameter_names(statement), parameters)
    except ParameterError as exc:
        raise QueryRefused(
            "syntax_error", {f"parameters.{name}": message for name, message in exc.errors.items()}
        ) from None
    prepared = PreparedQuery(
        sql=sandbox.normalised_sql(statement),
        parameters=parameters or {},
        statement=statement,
        values=values,
        tables=tables,
        reads_labels=LABELS_VIEW in tables,
        source_sql=sql,
        unmask=unmask,
    )
    # Labels differ by user; masked personal data does not (masking is deterministic), but an
    # unmasked result is its caller's alone.
    per_user = prepared.reads_labels or unmask
    key = {
        "sql": prepared.sql,
        "parameters": canonical(parameters),
        "user": str(user.pk) if per_user else None,
    }
    if unmask:
        key["unmask"] = True
    # A result masked under other registrations is not this one's: registering a column invalidates.
    registered = dataset_columns()
    personal = sorted(
        f"{dataset}.{column}:{entry.strategy}"
        for (dataset, column), entry in registered.items()
        if dataset in prepared.tables
    )
    if personal:
        key["personal"] = personal
    prepared.sql_hash = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return prepared


def retention_cutoff(org) -> Any:
    return timezone.now() - timedelta(days=org_settings(org.settings)["result_retention_days"])


def sync_row_cap(org) -> int:
    return int(org_settings(org.settings)["query_max_sync_rows"])


def result_size_cap(org, mode: str) -> tuple[str, int]:
    """The org setting that caps a result of ``mode`` and its effective value, in MiB."""
    name = RESULT_SIZE_SETTINGS[mode]
    return name, int(org_settings(org.settings)[name])


def _too_large(result: QueryResult, setting: str, cap_mb: int, started: float) -> QueryResult:
    advice = (
        "run it in async or export mode, or select fewer rows or columns"
        if result.mode == QueryResult.Mode.SYNC
        else "select fewer rows or columns"
    )
    return _fail(
        result,
        "row_limit",
        f"the result is larger than the org's {setting} of {cap_mb} MiB: {advice}",
        started,
    )


def is_expired(result: QueryResult) -> bool:
    return result.status == Status.EXPIRED or result.created_at < retention_cutoff(result.org)


def cache_lookup(
    *,
    org,
    prepared: PreparedQuery,
    output_format: str,
    max_age: float | None = None,
    max_rows: int | None = None,
) -> QueryResult | None:
    """The newest succeeded result of the same SQL that is still fresh, or None.

    ``max_rows``: a sync run reuses no result bigger than its row cap (it would fail ``row_limit``),
    and only a sync one: an async result of as many rows may hold far more than the sync byte cap,
    which the sync answer would load inline."""
    if prepared.reads_labels:
        return None
    candidates = QueryResult.objects.filter(
        org=org,
        sql_hash=prepared.sql_hash,
        status=Status.SUCCEEDED,
        output_format=output_format,
        output_location__isnull=False,
        created_at__gte=retention_cutoff(org),
    )
    if max_age is not None:
        candidates = candidates.filter(created_at__gte=timezone.now() - timedelta(seconds=max_age))
    if max_rows is not None:
        candidates = candidates.filter(row_count__lte=max_rows, mode=QueryResult.Mode.SYNC)
    candidate = candidates.order_by("-created_at").first()
    if candidate is None:
        return None
    if prepared.datasets:
        newest = PartitionVersion.objects.filter(dataset__in=prepared.datasets).aggregate(v=Max("version"))[
            "v"
        ]
        if newest is not None and newest >= candidate.created_at:
            return None
    return candidate


def _lock(org_id, sql_hash: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"query:{org_id}:{sql_hash}"]
        )


def _reuse(result: QueryResult, source: QueryResult, started: float) -> QueryResult:
    result.status = Status.SUCCEEDED
    result.output_location = source.output_location
    result.row_count = source.row_count
    result.bytes = source.bytes
    result.duration_ms = int((time.monotonic() - started) * 1000)
    result.error_code = result.error_message = None
    result.save(
        update_fields=[
            "status",
            "output_location",
            "row_count",
            "bytes",
            "duration_ms",
            "error_code",
            "error_message",
            "updated_at",
        ]
    )
    return result


def _finish(result: QueryResult, *, started: float, **fields) -> QueryResult:
    """Set a terminal state unless a cancel got there first (then the cancel stands)."""
    fields["duration_ms"] = int((time.monotonic() - started) * 1000)
    fields["updated_at"] = timezone.now()
    updated = QueryResult.objects.filter(pk=result.pk, status__in=LIVE).update(**fields)
    if updated:
        for name, value in fields.items():
            setattr(result, name, value)
    else:
        _reload(result)
        log.info("query result %s was %s before it finished", result.pk, result.status)
    return result


def _reload(result: QueryResult) -> None:
    """Refresh the row's own columns, keeping the loaded org and user."""
    result.refresh_from_db(fields=[f.attname for f in QueryResult._meta.concrete_fields if not f.is_relation])


def _fail(result: QueryResult, code: str, message: str, started: float) -> QueryResult:
    return _finish(result, started=started, status=Status.FAILED, error_code=code, error_message=message)


def query_execute(
    *,
    user,
    sql: str | None = None,
    saved_query: SavedQuery | None = None,
    parameters: dict | None = None,
    mode: str = QueryResult.Mode.SYNC,
    output_format: str = QueryResult.OutputFormat.PARQUET,
    max_age: float | None = None,
    force: bool = False,
    task=None,
    in_process: bool = False,
    unmask: bool = False,
) -> QueryResult:
    """Execute SQL (ad hoc or a saved query) for ``user`` in ``mode``.

    ``sync`` and ``scheduled`` run here and return the finished result; ``async`` and ``export``
    return the queued result and run on a django-q2 worker (``in_process``: here, as the ``query``
    command does). Refusals raise :class:`QueryRefused`.
    """
    if saved_query is not None:
        sql = saved_query.query
    if mode not in QueryResult.Mode.values:
        raise QueryRefused("syntax_error", {"mode": f"one of {', '.join(QueryResult.Mode.values)}"})
    if output_format not in QueryResult.OutputFormat.values:
        raise QueryRefused("syntax_error", {"format": f"one of {', '.join(QueryResult.OutputFormat.values)}"})
    if mode != QueryResult.Mode.EXPORT and output_format != QueryResult.OutputFormat.PARQUET:
        # Pageable results are stored as Parquet; any of them downloads as CSV or JSON too.
        output_format = QueryResult.OutputFormat.PARQUET
    prepared = query_prepare(user=user, sql=sql or "", parameters=parameters, unmask=unmask)
    # Every unmasked read is its own, logged read: never served from or shared with another run.
    force = force or prepared.unmask
    started = time.monotonic()
    result = QueryResult(
        org=user.org,
        user=user,
        saved_query=saved_query,
        task=task,
        mode=mode,
        status=Status.QUEUED,
        sql_hash=prepared.sql_hash,
        output_format=output_format,
    )
    if not force:
        hit = cache_lookup(
            org=user.org,
            prepared=prepared,
            output_format=output_format,
            max_age=max_age,
            max_rows=sync_row_cap(user.org) if mode == QueryResult.Mode.SYNC else None,
        )
        if hit is not None:
            result.save()
            return _reuse(result, hit, started)
    result.save()
    if mode in (QueryResult.Mode.ASYNC, QueryResult.Mode.EXPORT) and not in_process:
        _enqueue(result, prepared, max_age=max_age, force=force)
        return result
    return query_result_run(result=result, prepared=prepared, max_age=max_age, force=force)


def _enqueue(result: QueryResult, prepared: PreparedQuery, *, max_age, force) -> None:
    from django_q.tasks import async_task

    limits = sandbox.SandboxLimits.for_org(result.org)
    payload = {
        "sql": prepared.source_sql,
        "parameters": prepared.parameters,
        "max_age": max_age,
        "force": force,
        "unmask": prepared.unmask,
    }

    def send() -> None:
        # django-q2 kills a worker that outlives the query's timeout; the reaper then marks it.
        async_task(
            "queries.tasks.query_result_run",
            str(result.pk),
            payload,
            task_name=f"query {result.pk}",
            timeout=int(limits.timeout_seconds) + 15,
        )

    transaction.on_commit(send)


def query_result_run_queued(
    *, result_id, sql: str, parameters: dict | None, max_age=None, force=False, unmask=False
) -> str:
    """Worker entry: run a queued result (a cancelled or finished one is left alone)."""
    result = QueryResult.objects.select_related("org", "user").filter(pk=result_id).first()
    if result is None or result.status != Status.QUEUED:
        return "skipped"
    started = time.monotonic()
    try:
        prepared = query_prepare(user=result.user, sql=sql, parameters=parameters, unmask=unmask)
    except QueryRefused as exc:
        _fail(result, exc.code, "; ".join(exc.errors.values()), started)
        return result.status
    if prepared.sql_hash != result.sql_hash:
        _fail(result, "internal", "the queued SQL does not match the result", started)
        return result.status
    return query_result_run(result=result, prepared=prepared, max_age=max_age, force=force).status


def query_result_run(
    *, result: QueryResult, prepared: PreparedQuery, max_age: float | None = None, force: bool = False
) -> QueryResult:
    """Become the runner of ``result`` (or reuse what an identical run produced), then execute."""
    started = time.monotonic()
    limits = sandbox.SandboxLimits.for_org(result.org)
    deadline = started + limits.timeout_seconds
    while True:
        if force:
            # A fresh run on request: no cache to consult and no identical run to wait for.
            if not QueryResult.objects.filter(pk=result.pk, status=Status.QUEUED).update(
                status=Status.RUNNING, updated_at=timezone.now()
            ):
                _reload(result)
                return result
            result.status = Status.RUNNING
            break
        with transaction.atomic():
            _lock(result.org_id, result.sql_hash)
            # The run in flight first, then the cache: a leader finishing between the two checks is
            # then found by the second (its result), never missed by both.
            leader = (
                QueryResult.objects.filter(
                    org_id=result.org_id,
                    sql_hash=result.sql_hash,
                    output_format=result.output_format,
                    status=Status.RUNNING,
                    updated_at__gte=timezone.now()
                    - timedelta(seconds=limits.timeout_seconds + LOST_GRACE_SECONDS),
                )
                .exclude(pk=result.pk)
                .first()
            )
            hit = cache_lookup(
                org=result.org,
                prepared=prepared,
                output_format=result.output_format,
                max_age=max_age,
                max_rows=sync_row_cap(result.org) if result.mode == QueryResult.Mode.SYNC else None,
            )
            if hit is not None and hit.pk != result.pk:
                if QueryResult.objects.filter(pk=result.pk, status=Status.QUEUED).exists():
                    return _reuse(result, hit, started)
                _reload(result)
                return result
            if leader is None:
                claimed = QueryResult.objects.filter(pk=result.pk, status=Status.QUEUED).update(
                    status=Status.RUNNING, updated_at=timezone.now()
                )
                if not claimed:
                    _reload(result)
                    return result
                result.status = Status.RUNNING
                break
        # Another runner executes the same SQL: wait for its result instead of running it twice.
        if time.monotonic() >= deadline:
            return _fail(result, "timeout", "an identical query did not finish in time", started)
        if not QueryResult.objects.filter(pk=result.pk, status=Status.QUEUED).exists():
            _reload(result)
            return result
        if prepared.reads_labels and leader is not None:
            outcome = _wait_for(leader, deadline)
            if outcome is not None and outcome.status == Status.SUCCEEDED:
                return _reuse(result, outcome, started)
        time.sleep(WAIT_POLL_SECONDS)
    return _execute(result, prepared, limits, started)


def _wait_for(leader: QueryResult, deadline: float) -> QueryResult | None:
    while time.monotonic() < deadline:
        leader.refresh_from_db()
        if leader.status not in LIVE:
            return leader
        time.sleep(WAIT_POLL_SECONDS)
    return None


def _cancel_requested(result_id) -> bool:
    """Polled by the watchdog's thread (its own database connection, closed when it ends)."""
    return QueryResult.objects.filter(pk=result_id, status=Status.CANCELLED).exists()


def _arrow_reader(relation: duckdb.DuckDBPyRelation):
    # duckdb 2 names it to_arrow_reader; 1.x had fetch_arrow_reader.
    method = getattr(relation, "to_arrow_reader", None) or relation.fetch_arrow_reader
    return method(FETCH_BATCH_ROWS)


def _execute(result: QueryResult, prepared: PreparedQuery, limits, started: float) -> QueryResult:
    storage = result_store()
    try:
        binding = bind(user=result.user, tables=prepared.tables)
    except sandbox.SqlRejected as exc:
        return _fail(result, exc.code, exc.message, started)
    if prepared.unmask:
        # Raw exactly where the statement reads, and each of those columns logged when it succeeds.
        binding.unmasked = personal_columns_read(prepared.statement, binding)
    row_cap = None
    sql = binding.rewrite(prepared.statement)
    if result.mode == QueryResult.Mode.SYNC:
        row_cap = sync_row_cap(result.org)
        sql = f"SELECT * FROM ({sql}) AS __result LIMIT {row_cap + 1}"
    writer: ResultWriter | None = None
    con = None
    watchdog = None
    try:
        con = sandbox.sandbox_session(limits, allowed_directories=binding.allowed_directories())
        binding.setup(con)
        watchdog = sandbox.Watchdog(
            con,
            timeout_seconds=max(limits.timeout_seconds - (time.monotonic() - started), 0.1),
            should_stop=lambda: _cancel_requested(result.pk),
            poll_seconds=CANCEL_POLL_SECONDS,
            thread_cleanup=connections.close_all,
        )
        with watchdog:
            reader = _arrow_reader(con.sql(sql, params=prepared.values or None))
            location = result_location(result.org_id, result.pk, result.output_format)
            size_setting, size_cap_mb = result_size_cap(result.org, result.mode)
            writer = ResultWriter(
                storage, location, result.output_format, reader.schema, max_bytes=size_cap_mb << 20
            )
            for batch in reader:
                writer.write(batch)
                if row_cap is not None and writer.rows > row_cap:
                    writer.abort()
                    writer = None
                    return _fail(
                        result,
                        "row_limit",
                        f"more than {row_cap} rows: run it in async or export mode, or add a LIMIT",
                        started,
                    )
            size = writer.commit()
            rows = stored_row_count(storage, location, result.output_format)
            writer = None
    except ResultTooLarge:
        return _too_large(result, size_setting, size_cap_mb, started)
    except (duckdb.Error, sandbox.SqlRejected) as exc:
        reason = watchdog.reason if watchdog is not None else None
        code = sandbox.error_code(exc, watchdog_reason=reason)
        if code == "cancelled":
            _reload(result)
            return result
        message = (
            f"stopped after the org's timeout of {limits.timeout_seconds:g} s"
            if code == "timeout"
            else sandbox.error_message(exc)
        )
        return _fail(result, code, message, started)
    except Exception as exc:
        log.exception("query result %s failed", result.pk)
        return _fail(result, "internal", f"internal error: {type(exc).__name__}", started)
    finally:
        if writer is not None:
            writer.abort()
        if con is not None:
            con.close()
    with transaction.atomic():
        finished = _finish(
            result,
            started=started,
            status=Status.SUCCEEDED,
            output_location=location,
            row_count=rows,
            bytes=size,
            error_code=None,
            error_message=None,
        )
        if finished.status == Status.SUCCEEDED and binding.unmasked:
            access_log_write(
                user=result.user,
                action="export" if result.mode == QueryResult.Mode.EXPORT else "query",
                reads=[
                    (dataset, column, result.pk)
                    for dataset, columns in sorted(binding.unmasked.items())
                    for column in sorted(columns)
                ],
            )
    if finished.status != Status.SUCCEEDED:  # cancelled meanwhile: the file is nobody's
        with contextlib.suppress(OSError):
            storage.delete(location)
    return finished


def query_result_cancel(*, result: QueryResult) -> bool:
    """Cancel a queued or running result; a running query is interrupted within a second."""
    return bool(
        QueryResult.objects.filter(pk=result.pk, status__in=LIVE).update(
            status=Status.CANCELLED,
            error_code="cancelled",
            error_message="cancelled",
            updated_at=timezone.now(),
        )
    )


def query_results_reap() -> int:
    """Fail results whose run was lost (a killed worker, a lost message) as ``timeout``."""
    reaped = 0
    for org in Org.objects.filter(query_results__status__in=LIVE).distinct():
        limits = sandbox.SandboxLimits.for_org(org)
        stale = timezone.now() - timedelta(seconds=limits.timeout_seconds + LOST_GRACE_SECONDS)
        reaped += QueryResult.objects.filter(
            Q(status=Status.RUNNING, updated_at__lt=stale) | Q(status=Status.QUEUED, created_at__lt=stale),
            org=org,
        ).update(
            status=Status.FAILED,
            error_code="timeout",
            error_message="the run did not finish within the org's timeout (its worker was stopped)",
            updated_at=timezone.now(),
        )
    return reaped
