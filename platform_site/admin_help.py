"""Help texts of admin form fields, in the product's own vocabulary.

A field's own ``help_text`` wins; these fill in where the model has none.
"""

from __future__ import annotations

HELP_TEXTS: dict[tuple[str, str], str] = {
    ("orchestration.job", "name"): "Short name, unique in the org (e.g. evm_transfers).",
    ("orchestration.job", "dag_name"): "The DAG the job belongs to: jobs sharing it form one DAG; "
    "edges run from output to input dataset names.",
    ("orchestration.job", "activation"): "manual: only when asked; schedule: cron in config.schedule; "
    "reactive: when an input partition gets a new version or is invalidated; continuous: a long task "
    "that tails its input and ends after idle_timeout with nothing new.",
    ("orchestration.job", "runtime"): "sql (DuckDB SQL), python (a Python callable) or source "
    "(reads from outside, e.g. a chain node).",
    ("orchestration.job", "operator"): "The registered operator that runs the job: duckdb_sql, python, "
    "evm_rpc, address_labels, …",
    ("orchestration.job", "source"): 'Where the logic is: {"sql": "select …"}, {"callable": '
    '"package.module:function"} or the source\'s connection settings.',
    ("orchestration.job", "config"): "Operator parameters (schedule, partition_mapping, cursor_column, "
    "partition_by, …). A change makes every output partition stale.",
    ("orchestration.job", "input_datasets"): "Datasets read, as namespace.name, comma-separated. "
    "A job reads its own org's datasets and the system ones (evm.*).",
    ("orchestration.job", "output_datasets"): "Datasets written, as namespace.name under the org's "
    "slug, comma-separated. Each dataset has exactly one active producer.",
    ("orchestration.job", "execution_strategy"): "partitioned: a task per batch of input partitions; "
    "incremental: rows past a cursor; full: one task recomputes everything; streaming: the "
    "continuous runner.",
    ("orchestration.job", "update_strategy"): "append, replace (the partition is swapped whole) or "
    "upsert (rows with the same unique_key replace earlier ones).",
    ("orchestration.job", "unique_key"): "Columns identifying a row for upsert, comma-separated.",
    ("orchestration.job", "idle_timeout"): "Continuous jobs: how long a task waits with nothing new "
    "before it ends (e.g. 5m).",
    ("orchestration.job", "scaling"): '{"max_concurrency": n, "priority": p, "batch_size": k}: at most n '
    "running tasks, higher priority dispatched first, k partitions per task.",
    ("orchestration.job", "timeout_seconds"): "A task running longer is failed by the reaper and retried.",
    ("orchestration.job", "heartbeat_timeout_seconds"): "A task whose last heartbeat is older is failed "
    "by the reaper and retried.",
    ("orchestration.job", "max_attempts"): "Attempts before a task stays failed; retries back off "
    "exponentially with jitter.",
    ("orchestration.job", "active"): "Paused jobs are neither planned nor dispatched.",
    ("orchestration.task", "partitions"): "The output partition keys this task produces.",
}


def help_text_for(db_field) -> str:
    model = getattr(db_field, "model", None)
    if model is None:
        return ""
    return HELP_TEXTS.get((model._meta.label_lower, db_field.name), "")
