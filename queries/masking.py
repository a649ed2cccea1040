"""The one place query results pass through on their way out, for PII masking.

Every batch of every result (fresh runs in every mode, before it is written to the result store)
goes through :func:`mask_result_batch` with the user it is for and the dataset columns the query
read. Today it returns the batch unchanged; masking by the PII registry plugs in here.

:func:`result_depends_on_user` tells the cache whether two users of one org may see different rows
or values for the same SQL (labels, masked columns): such results are keyed per user.
"""

from __future__ import annotations

import pyarrow as pa


def mask_result_batch(
    *, user, columns_read: dict[str, set[str] | None], batch: pa.RecordBatch
) -> pa.RecordBatch:
    """``batch`` as ``user`` may see it. ``columns_read`` maps each dataset the query read to the
    column names it referenced (``None``: every column, through ``*``)."""
    return batch


def result_depends_on_user(*, user, columns_read: dict[str, set[str] | None]) -> bool:
    """True when the masking of these columns differs between users of one org."""
    return False
