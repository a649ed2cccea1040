"""Writing the access log: the only state change personal data has."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from .models import PiiAccessLog


def _as_uuid(value) -> UUID | None:
    if value is None or isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        return None  # a record without a uuid key: the dataset and column still say what was read


def access_log_write(
    *, user, action: str, reads: Iterable[tuple[str, str, UUID | str | None]]
) -> list[PiiAccessLog]:
    """One row per (dataset, column, record) read unmasked by ``user`` through ``action``.

    Inserted in one statement on the caller's connection, so inside the caller's transaction: a read
    that fails to commit leaves no log row, and a log row that cannot be written fails the read.
    """
    rows = [
        PiiAccessLog(
            user=user, dataset=dataset, column_name=column, record_id=_as_uuid(record_id), action=action
        )
        for dataset, column, record_id in reads
    ]
    return PiiAccessLog.objects.bulk_create(rows) if rows else []
