"""The ``source`` of a job that asks a JSON-RPC node (``evm_rpc``, ``erc20_metadata``): its checks,
written once, so a bad URL, number or key reads the same whichever operator refuses it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def node_source_errors(
    source: Any, *, int_fields: Mapping[str, tuple[int | None, int]], known: set[str]
) -> list[str]:
    """Every problem of ``source``, one short sentence each. ``int_fields``: name -> (default, or
    None when required; minimum). ``known``: every key the operator reads."""
    if not isinstance(source, dict):
        return ["source is an object with url and chain_id"]
    problems = []
    url = source.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append("url: an http(s) JSON-RPC endpoint such as http://127.0.0.1:8545")
    for name, (default, minimum) in int_fields.items():
        value = source.get(name, default)
        if value is None:
            problems.append(f"{name} is required")
        elif not is_int(value) or value < minimum:
            problems.append(f"{name}: an integer >= {minimum}")
    timeout = source.get("rpc_timeout_seconds", 30)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        problems.append("rpc_timeout_seconds: a positive number")
    unknown = sorted(set(source) - known)
    if unknown:
        problems.append(f"unknown keys {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return problems
