"""The error responses of every operation, documented in one place.

Every API error has drf-standardized-errors' body, ``{"type", "errors": [{"code", "detail",
"attr"}]}``. :class:`PlatformAutoSchema` documents, for each operation, every status it can answer:

| status | when | on |
| --- | --- | --- |
| 400 | field errors (``validation_error``), an unreadable body (``client_error``) | body or query |
| 401 | no or a bad credential | every operation |
| 403 | the caller's role may not do it | every operation |
| 404 | not found, another org's (never 403), a page past the end | path parameter, pages |
| 405 | a method the resource does not take | every operation |
| 406, 415 | an ``Accept`` or ``Content-Type`` the API does not speak | every operation |
| 409 | the change conflicts with stored data (a unique key, a row still referred to) | writes |
| 409, 410 | a result not ready, or expired | the views that say so with :func:`error_responses` |
| 429 | throttled | every operation |
| 503 | the database is unavailable for a moment (with ``Retry-After``) | every operation |

A 500 is not documented: it is a bug, and the schemathesis test fails on one. The 400 body is
documented with ``attr`` and ``code`` as strings rather than drf-standardized-errors' per-field
enumerations: services refuse input under names of their own (``parameters.low``, ``cursor``,
``settings``) with codes of their own (``syntax_error``), which an enumeration would call invalid.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from drf_standardized_errors.openapi import AutoSchema
from drf_standardized_errors.openapi_serializers import ClientErrorEnum, ServerErrorEnum, ValidationErrorEnum
from rest_framework import serializers
from rest_framework.permissions import AllowAny

UNSAFE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="What went wrong, as a stable word (`required`, `not_found`).")
    detail = serializers.CharField(help_text="What went wrong, for a person.")
    attr = serializers.CharField(
        allow_null=True, help_text="The field it is about (dotted for nested fields), or null."
    )


class BadRequestResponseSerializer(serializers.Serializer):
    type = serializers.ChoiceField(
        choices=[ValidationErrorEnum.VALIDATION_ERROR.value, ClientErrorEnum.CLIENT_ERROR.value]
    )
    errors = ErrorSerializer(many=True)


class ClientErrorResponseSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=[ClientErrorEnum.CLIENT_ERROR.value])
    errors = ErrorSerializer(many=True)


class ServerErrorResponseSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=[ServerErrorEnum.SERVER_ERROR.value])
    errors = ErrorSerializer(many=True)


ERROR_DESCRIPTIONS = {
    400: "Invalid input: every problem, with the field it is about.",
    409: "Conflict with stored data, or the object is not in a state that allows this.",
    410: "Gone: the object expired.",
    503: "The database is unavailable for a moment; retry after the Retry-After header's seconds.",
}


def error_responses(*status_codes: int) -> dict[int, OpenApiResponse]:
    """Extra error statuses of one operation, for its ``extend_schema(responses=...)``."""
    return {
        code: OpenApiResponse(
            response=ClientErrorResponseSerializer, description=ERROR_DESCRIPTIONS.get(code, "")
        )
        for code in status_codes
    }


class PlatformAutoSchema(AutoSchema):
    """drf-standardized-errors' schema, with the statuses above decided for our views (its own
    rules skip every view because our exception handler wraps its handler)."""

    def _get_allowed_error_status_codes(self) -> list[str]:
        return ["400", "401", "403", "404", "405", "406", "409", "415", "429", "503"]

    def _should_add_error_response(self, responses: dict, status_code: str) -> bool:
        if status_code in responses:  # the view documented it itself
            return False
        if status_code == "400":
            return (
                self.method in UNSAFE_METHODS
                or any(parameter["in"] == "query" for parameter in self._get_parameters())
                or self._should_add_validation_error_response()
            )
        if status_code == "403":
            permissions = self.view.get_permissions()
            return not (len(permissions) == 1 and type(permissions[0]) is AllowAny)
        if status_code == "409":
            return self.method in UNSAFE_METHODS
        if status_code == "503":
            return True
        # The library's own rules for the rest (it would skip them all: our handler wraps its own).
        return {
            "401": self._should_add_http401_error_response,
            "404": self._should_add_http404_error_response,
            "405": self._should_add_http405_error_response,
            "406": self._should_add_http406_error_response,
            "415": self._should_add_http415_error_response,
            "429": self._should_add_http429_error_response,
        }[status_code]()

    def _get_error_response_serializer(self, status_code: str):
        if status_code == "400":
            return BadRequestResponseSerializer
        if status_code == "409":
            return ClientErrorResponseSerializer
        if status_code == "503":
            return ServerErrorResponseSerializer
        return super()._get_error_response_serializer(status_code)
