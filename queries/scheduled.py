"""What a scheduled query may read: its output is an org dataset every member of the org reads, so
only what every member may read (the org's own and the system datasets), never ``address_labels``
(whose rows depend on who reads them)."""

from __future__ import annotations

from versioning import duckdb_sandbox as sandbox
from versioning.datasets import readable_namespaces


def scheduled_read_error(sql: str, org) -> str | None:
    """Why ``sql`` may not run as a scheduled query of ``org``, or None."""
    try:
        statement = sandbox.parse_read_only(sql)
    except sandbox.SqlRejected as exc:
        return f"the saved query is refused: {exc.message}"
    tables = sandbox.referenced_tables(statement)
    if "address_labels" in tables:
        return (
            "a scheduled query may not read address_labels: labels depend on who reads them, and its "
            "output is read by every member of the org"
        )
    readable = set(readable_namespaces(org.slug))
    outside = sorted(t for t in tables if t.partition(".")[0] not in readable)
    if outside:
        return "a scheduled query reads only what every member of the org may read, not " + ", ".join(outside)
    return None
