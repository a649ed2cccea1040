"""One error body for every API failure: ``{"type", "errors": [{"code", "detail", "attr"}]}``.

drf-standardized-errors formats DRF's exceptions; this handler also turns what the database or a
model refuses into client errors instead of 500s: Django ``ValidationError`` → 400 with field errors,
a protected or violated foreign key / unique key → 409.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, IntegrityError
from django.db.models import ProtectedError, RestrictedError
from drf_standardized_errors.handler import ExceptionHandler
from rest_framework import exceptions, status

from .serializers import model_errors


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with stored data."
    default_code = "conflict"


class PlatformExceptionHandler(ExceptionHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, DjangoValidationError):
            return exceptions.ValidationError(model_errors(exc))
        if isinstance(exc, ProtectedError | RestrictedError):
            return Conflict("Other records still refer to this object; remove or reassign them first.")
        if isinstance(exc, DataError):
            # A value the database cannot hold (out-of-range number or date): the client's input.
            return exceptions.ValidationError(
                {"non_field_errors": ["A value is out of the range the platform stores."]}
            )
        if isinstance(exc, IntegrityError):
            return Conflict("The change conflicts with stored data (a unique or foreign key).")
        return super().convert_known_exceptions(exc)
