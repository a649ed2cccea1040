"""django-q2 entry points of the query service: take ids, call one service."""

from __future__ import annotations

from . import services


def query_result_run(result_id: str, payload: dict) -> str:
    """Run a queued async or export result."""
    return services.query_result_run_queued(
        result_id=result_id,
        sql=payload["sql"],
        parameters=payload.get("parameters"),
        max_age=payload.get("max_age"),
        force=bool(payload.get("force")),
        unmask=bool(payload.get("unmask")),
    )


def query_results_purge() -> int:
    """Daily: expire results past their org's retention."""
    return services.query_results_purge()


def query_results_reap() -> int:
    """Every minute: results whose worker was stopped become ``timeout`` failures."""
    return services.query_results_reap()
