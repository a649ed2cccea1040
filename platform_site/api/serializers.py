"""Serializer base: model validation (``full_clean``) runs on every API write."""

from __future__ import annotations

import copy

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers
from rest_framework.settings import api_settings


def model_errors(exc: DjangoValidationError) -> dict:
    """A model's ValidationError as DRF field errors; model-wide ones (unique together, check
    constraints) under DRF's ``non_field_errors``."""
    errors = serializers.as_serializer_error(exc)
    if NON_FIELD_ERRORS in errors:
        errors[api_settings.NON_FIELD_ERRORS_KEY] = errors.pop(NON_FIELD_ERRORS)
    return errors


class CleanModelSerializer(serializers.ModelSerializer):
    """Validates the would-be instance with the model's ``full_clean`` (field validators, ``clean``,
    unique and check constraints), so the API accepts exactly what the model accepts.

    Attributes the view sets itself (the org, the creator) come from ``context["forced"]`` and are
    applied before validation, so a unique key involving the org is checked in the right org.
    """

    def validate(self, attrs):
        attrs = super().validate(attrs)
        instance = copy.copy(self.instance) if self.instance is not None else self.Meta.model()
        for name, value in {**attrs, **self.context.get("forced", {})}.items():
            field = self.Meta.model._meta.get_field(name)
            if field.many_to_many:
                continue
            setattr(instance, name, value)
        self.prepare_for_clean(instance)
        try:
            instance.full_clean()
            self.validate_instance(instance)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(model_errors(exc)) from None
        return attrs

    def validate_instance(self, instance) -> None:
        """Hook: domain rules beyond the model's own (a service's validation), raising Django's
        ValidationError with a field -> message dict."""

    def prepare_for_clean(self, instance) -> None:
        """Hook: fill what the model requires but the API does not take (an unusable password)."""
