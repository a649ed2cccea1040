"""The documented schema of ``orgs.settings``, checked on every write (model save, admin, API).

Every key is optional; :func:`org_settings` fills in the defaults below. Unknown keys are refused so
a typo ("query_timout_seconds") is an error instead of a silently ignored limit.

| key                           | type    | default | meaning                                              |
| ----------------------------- | ------- | ------- | ---------------------------------------------------- |
| ``query_timeout_seconds``     | integer | 60      | a query is interrupted after this long (1-3600)      |
| ``query_memory_limit_mb``     | integer | 2048    | DuckDB memory limit per query (64-65536)             |
| ``query_threads``             | integer | 2       | DuckDB threads per query (1-64)                      |
| ``query_temp_space_mb``       | integer | 4096    | DuckDB spill space on disk per query (0-1048576)     |
| ``query_max_sync_rows``       | integer | 10000   | most rows a sync query returns inline (1-1000000)    |
| ``query_max_sync_result_mb``  | integer | 64      | largest result of a sync query, in MiB (1-1048576)   |
| ``query_max_async_result_mb`` | integer | 1024    | largest result of an async or scheduled query, MiB   |
| ``query_max_export_result_mb``| integer | 10240   | largest export file, in MiB                          |
| ``result_retention_days``     | integer | 30      | query results expire after this many days (1-3650)   |
| ``retention_days``            | integer | 90      | days kept: finished tasks, alert records (1-3650)    |
| ``alert_rate_limit_per_minute`` | integer | 600 | most alert deliveries per minute (1-1e6) |
| ``timezone``                  | string  | "UTC"   | IANA name used to show times and evaluate schedules  |
| ``chains``                    | array   | []      | platform org only: the chains ingested side by side  |

``chains`` is the chain registry: one object per chain, ``{"name": "base", "chain_id": 8453,
"rpc_url": "https://...", "confirmations": 12, "reorg_window": 64, "partition_width": 1000,
"start_block": 0, "end_block": null}``; only ``name`` (the chain's dataset namespace, one of the
system namespaces) and ``chain_id`` are required, and without ``rpc_url`` the chain is the synthetic
demo chain. Apps above this one add checks of their own keys with :func:`register_settings_check`
(the chain registry's checks live with chain ingestion), run on every write like the schema.

The query limits (memory, threads, temp space, timeout, sync rows, result sizes) also have a platform
ceiling each (``settings.ORG_SETTING_CEILINGS``, from ``CHAINLAKE_MAX_*``): a value above it is
refused on save, and :func:`org_settings` never returns more than the ceiling, so an org saved before
a ceiling was lowered runs at the ceiling. A result's size is the larger of its data as DuckDB
hands it out (Arrow bytes) and the file written.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from typing import Any

import jsonschema

DEFAULTS: dict[str, Any] = {
    "query_timeout_seconds": 60,
    "query_memory_limit_mb": 2048,
    "query_threads": 2,
    "query_temp_space_mb": 4096,
    "query_max_sync_rows": 10_000,
    "query_max_sync_result_mb": 64,
    "query_max_async_result_mb": 1024,
    "query_max_export_result_mb": 10_240,
    "result_retention_days": 30,
    "retention_days": 90,
    "alert_rate_limit_per_minute": 600,
    "timezone": "UTC",
    "chains": [],
}


def _integer(minimum: int, maximum: int, description: str) -> dict:
    return {"type": "integer", "minimum": minimum, "maximum": maximum, "description": description}


ORG_SETTINGS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Org settings",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "query_timeout_seconds": _integer(1, 3600, "Queries are interrupted after this many seconds."),
        "query_memory_limit_mb": _integer(64, 65536, "DuckDB memory limit per query, in MiB."),
        "query_threads": _integer(1, 64, "DuckDB threads per query."),
        "query_temp_space_mb": _integer(0, 1_048_576, "DuckDB spill space on disk per query, in MiB."),
        "query_max_sync_rows": _integer(1, 1_000_000, "Most rows a sync query returns inline."),
        "query_max_sync_result_mb": _integer(1, 1_048_576, "Largest result of a sync query, in MiB."),
        "query_max_async_result_mb": _integer(
            1, 1_048_576, "Largest result of an async or scheduled query, in MiB."
        ),
        "query_max_export_result_mb": _integer(1, 1_048_576, "Largest export file, in MiB."),
        "result_retention_days": _integer(1, 3650, "Query results expire after this many days."),
        "retention_days": _integer(
            1, 3650, "Finished tasks, alert events and deliveries are deleted after this many days."
        ),
        "alert_rate_limit_per_minute": _integer(1, 1_000_000, "Most alert deliveries per minute."),
        "timezone": {"type": "string", "minLength": 1, "description": "IANA time zone name."},
        "chains": {
            "type": "array",
            "description": "Platform org only: the chains ingested, each into its own dataset namespace.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "chain_id"],
                "properties": {
                    "name": {"type": "string", "description": "The chain's dataset namespace (evm, base)."},
                    "chain_id": _integer(1, 2**63 - 1, "The chain id the node must serve."),
                    "rpc_url": {"type": "string", "description": "JSON-RPC node; absent: a synthetic chain."},
                    "confirmations": _integer(0, 100_000, "Blocks a block must be buried under."),
                    "reorg_window": _integer(1, 100_000, "Deepest reorg handled without a person."),
                    "partition_width": _integer(1, 10_000_000, "Blocks per partition."),
                    "start_block": _integer(0, 2**63 - 1, "First block ingested."),
                    "end_block": {
                        "type": ["integer", "null"],
                        "minimum": 0,
                        "description": "Last block ingested (null: follow the head).",
                    },
                },
            },
        },
    },
}

_VALIDATOR = jsonschema.Draft202012Validator(ORG_SETTINGS_SCHEMA)


# Checks that apps above this one register for keys whose meaning they own: each gets the settings
# (already valid against the schema) and the org's slug, and returns ``key: reason`` lines.
SettingsCheck = Callable[[dict, str | None], list[str]]
_checks: list[SettingsCheck] = []


def register_settings_check(check: SettingsCheck) -> None:
    """Run ``check`` on every settings write, after the schema (idempotent)."""
    if check not in _checks:
        _checks.append(check)


def org_settings_errors(value: Any, *, org_slug: str | None = None) -> list[str]:
    """Every problem with ``value`` as one line each (``key: reason``); empty when it is valid.
    ``org_slug`` is the org whose settings these are, for checks that depend on it."""
    errors = []
    for error in sorted(_VALIDATOR.iter_errors(value), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(part) for part in error.absolute_path) or "settings"
        errors.append(f"{where}: {error.message}")
    if not errors and isinstance(value, dict):
        ceilings = platform_ceilings()
        for key in sorted(set(value) & set(ceilings)):
            if value[key] > ceilings[key]:
                errors.append(f"{key}: at most {ceilings[key]} (the platform's ceiling)")
    if not errors and isinstance(value, dict) and "timezone" in value:
        try:
            zoneinfo.ZoneInfo(value["timezone"])
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors.append(f"timezone: {value['timezone']!r} is not an IANA time zone name")
    if not errors and isinstance(value, dict):
        for check in _checks:
            errors.extend(check(value, org_slug))
    return errors


def platform_ceilings() -> dict[str, int]:
    """The most an org may set for each capped limit (``settings.ORG_SETTING_CEILINGS``)."""
    from django.conf import settings

    return dict(settings.ORG_SETTING_CEILINGS)


def org_settings(value: dict | None) -> dict[str, Any]:
    """The effective settings: the stored keys over the defaults, none above its platform ceiling."""
    effective = {**DEFAULTS, **(value or {})}
    for key, ceiling in platform_ceilings().items():
        effective[key] = min(effective[key], ceiling)
    return effective
