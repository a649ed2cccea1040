"""Every state change of the query service (see each module)."""

from .execution import (
    PreparedQuery,
    QueryRefused,
    cache_lookup,
    is_expired,
    query_execute,
    query_prepare,
    query_result_cancel,
    query_result_run,
    query_result_run_queued,
    query_results_reap,
)
from .retention import query_results_purge

__all__ = [
    "PreparedQuery",
    "QueryRefused",
    "cache_lookup",
    "is_expired",
    "query_execute",
    "query_prepare",
    "query_result_cancel",
    "query_result_run",
    "query_result_run_queued",
    "query_results_purge",
    "query_results_reap",
]
