"""Masking of personal data: single values (API, admin, commands) and Arrow tables (query results).

Every surface masks by default. Unmasking takes both the right (:func:`orgs.roles.can_unmask_personal_data`)
and an explicit request (``unmask=true`` in the API and the query service, ``?unmask=1`` on an admin
page, ``--unmask`` on a command), and every unmasked read writes access-log rows in the transaction of
the read (:func:`pii.services.access_log_write`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from functools import lru_cache
from uuid import UUID

import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils.crypto import salted_hmac

from orgs.roles import can_unmask_personal_data

from .registry import STRICTNESS, Strategy, dataset_columns
from .services import access_log_write

REDACTED = "[redacted]"
HASH_PREFIX = "hmac:"


class UnmaskDenied(PermissionDenied):
    """Unmasking was asked for by a user who does not hold the right."""

    def __init__(self):
        super().__init__("you may not read personal data unmasked")


@lru_cache(maxsize=4)
def _hash_key(configured: str, secret_key: str) -> bytes:
    if configured:
        return configured.encode()
    # Derived from SECRET_KEY under its own purpose label: never the secret key itself.
    return salted_hmac("chainlake.pii.hash-key", "v1", secret=secret_key, algorithm="sha256").digest()


def hash_key() -> bytes:
    return _hash_key(settings.PII_HASH_KEY, settings.SECRET_KEY)


def keyed_hash(text: str, key: bytes | None = None) -> str:
    """HMAC-SHA256 of ``text``: the same input always gives the same output (joins work), and
    without the key nobody can build a dictionary of known e-mails to reverse it."""
    digest = hmac.new(key or hash_key(), text.encode(), hashlib.sha256).hexdigest()
    return HASH_PREFIX + digest


def partial(text: str) -> str:
    """``jane@example.com`` -> ``j***@example.com``; other text keeps its first character."""
    local, at, domain = text.partition("@")
    if at and local:
        return f"{local[0]}***@{domain}"
    return f"{text[0]}***" if text else ""


def mask_value(value, strategy: Strategy | str):
    """``value`` masked by ``strategy``; null and empty stay as they are (nothing to hide)."""
    if value is None or value == "":
        return value
    text = str(value)
    strategy = Strategy(strategy)
    if strategy == Strategy.REDACT:
        return REDACTED
    if strategy == Strategy.HASH:
        return keyed_hash(text)
    return partial(text)


def unmask_allowed(user, *, requested: bool) -> bool:
    """True when the read is to be unmasked: requested explicitly and by a user with the right.

    A request without the right raises :class:`UnmaskDenied` (a 403), so nobody mistakes a masked
    answer for the real data."""
    if not requested:
        return False
    if not can_unmask_personal_data(user):
        raise UnmaskDenied()
    return True


def mask_array(array: pa.Array | pa.ChunkedArray, strategy: Strategy | str) -> pa.ChunkedArray:
    """A string column: ``array`` masked value by value (nulls stay null).

    Each distinct value is masked once (the column is dictionary-encoded first), so hashing a
    million rows of a few thousand addresses costs a few thousand HMACs.
    """
    strategy = Strategy(strategy)
    if isinstance(array, pa.Array):
        array = pa.chunked_array([array])
    if not pa.types.is_string(array.type) and not pa.types.is_large_string(array.type):
        array = pc.cast(array, pa.string())
    if strategy == Strategy.REDACT:
        return pc.if_else(pc.is_null(array), pa.scalar(None, pa.string()), pa.scalar(REDACTED))
    key = hash_key()
    chunks = []
    for chunk in array.chunks:
        encoded = pc.dictionary_encode(chunk)
        masked = [
            None
            if v is None
            else (keyed_hash(v, key) if strategy == Strategy.HASH else mask_value(v, strategy))
            for v in encoded.dictionary.to_pylist()
        ]
        chunks.append(pc.take(pa.array(masked, pa.string()), encoded.indices))
    return pa.chunked_array(chunks, pa.string())


def _sources_by_result_column(
    table: pa.Table, columns: Mapping[str, Iterable[tuple[str, str]]] | Iterable[tuple[str, str]]
) -> dict[str, set[tuple[str, str]]]:
    if isinstance(columns, Mapping):
        return {name: set(sources) for name, sources in columns.items() if name in table.column_names}
    # Only the pairs read are known: a result column carries a source column of the same name.
    by_name: dict[str, set[tuple[str, str]]] = {}
    for dataset, column in columns:
        if column in table.column_names:
            by_name.setdefault(column, set()).add((dataset, column))
    return by_name


def mask_arrow_table(
    table: pa.Table,
    *,
    user,
    columns: Mapping[str, Iterable[tuple[str, str]]] | Iterable[tuple[str, str]],
    action: str,
    record_id: UUID | str | None = None,
    unmask: bool = False,
) -> pa.Table:
    """A query result or export as ``user`` may see it.

    ``columns`` says where each result column comes from: ``{result column: [(dataset, column),
    ...]}`` (from the query's column lineage), or just the (dataset, column) pairs the query read, in
    which case a result column is matched to a source column of the same name. A result column fed by
    a registered column is masked with the strictest strategy among its sources.

    ``unmask=True`` is the caller's explicit request: a user without the right gets
    :class:`UnmaskDenied`; otherwise the table comes back untouched and one access-log row is written
    per registered (dataset, column) read, with ``record_id`` (the query result) and ``action``
    (``query`` or ``export``). Call it inside the transaction that records the read.
    """
    registered = dataset_columns()
    sources = _sources_by_result_column(table, columns)
    personal: dict[str, Strategy] = {}
    read_pairs: set[tuple[str, str]] = set()
    for name, pairs in sources.items():
        strategies = [registered[pair].strategy for pair in pairs if pair in registered]
        read_pairs |= {pair for pair in pairs if pair in registered}
        if strategies:
            personal[name] = max(strategies, key=STRICTNESS.__getitem__)
    if not personal:
        return table
    if unmask_allowed(user, requested=unmask):
        access_log_write(
            user=user,
            action=action,
            reads=[(dataset, column, record_id) for dataset, column in sorted(read_pairs)],
        )
        return table
    # By position: a result may carry two columns of the same name (``a.email, b.email``).
    for index, name in enumerate(table.column_names):
        if name in personal:
            masked = mask_array(table.column(index), personal[name])
            table = table.set_column(index, pa.field(name, pa.string()), masked)
    return table
