"""Reads that carry rules for orchestration: tenancy scopes (``scopes``) and the scheduler's
staleness queries, DAG neighbours and job pages (``planning``).
"""

from . import scopes  # noqa: F401  (registers the tenancy scopes on import)
from .planning import (
    CATALOG_WATERMARK,
    CHANGED_CTES,
    LIVE,
    NEVER,
    UNREAD,
    commit_margin,
    dag_edges,
    dataset_column_lineage,
    downstream_jobs,
    incremental_is_due,
    input_high_water,
    is_whole,
    job_neighbours,
    live_keys,
    live_task_processes,
    open_invalidations,
    outputs_built_before,
    planning_watermarks,
    recent_failures,
    stale_partitions,
    stale_source_partitions,
    upstream_jobs,
    whole_is_stale,
    whole_output_key,
)
from .scopes import (
    jobs_of_org,
    tasks_of_org,
)

__all__ = [
    "CATALOG_WATERMARK",
    "CHANGED_CTES",
    "LIVE",
    "NEVER",
    "UNREAD",
    "commit_margin",
    "dag_edges",
    "dataset_column_lineage",
    "downstream_jobs",
    "incremental_is_due",
    "input_high_water",
    "is_whole",
    "job_neighbours",
    "jobs_of_org",
    "live_keys",
    "live_task_processes",
    "open_invalidations",
    "outputs_built_before",
    "planning_watermarks",
    "recent_failures",
    "stale_partitions",
    "stale_source_partitions",
    "tasks_of_org",
    "upstream_jobs",
    "whole_is_stale",
    "whole_output_key",
]
