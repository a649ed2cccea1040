"""Model helpers shared by every app: time-ordered ids and CHECK constraints for closed vocabularies."""

from __future__ import annotations

import uuid

import uuid_utils
from django.db import models


def uuid7() -> uuid.UUID:
    """A time-ordered UUIDv7, so high-volume tables insert at the right edge of their primary key index."""
    return uuid.UUID(int=uuid_utils.uuid7().int)


def choices_check(model_name: str, field: str, choices: type[models.TextChoices], *, null: bool = False):
    """A CHECK constraint that keeps ``field`` inside the vocabulary of ``choices``."""
    condition = models.Q(**{f"{field}__in": choices.values})
    if null:
        condition |= models.Q(**{f"{field}__isnull": True})
    return models.CheckConstraint(condition=condition, name=f"{model_name}_{field}_valid")
