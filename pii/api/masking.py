"""Masking in the API: a serializer mixin driven by the registry and a viewset mixin for unmasking.

A serializer with :class:`PiiMaskedSerializerMixin` masks every registered field of its model unless
the view unmasked the request. A viewset with :class:`PiiUnmaskViewMixin` unmasks a read (GET) only
when it carries ``?unmask=true`` and the user holds the right (otherwise 403), and writes one access-log
row per field and record read, in the request's transaction, before the response leaves.
"""

from __future__ import annotations

from django.db import transaction
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import SAFE_METHODS

from ..masking import mask_value, unmask_allowed
from ..models import PiiAccessLog
from ..registry import fields_of_model, personal_field_of_path
from ..services import access_log_write

UNMASK_PARAM = "unmask"
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}


def unmask_requested(query_params) -> bool:
    """``?unmask=true`` asks for personal data unmasked; anything but true/false is a 400."""
    raw = query_params.get(UNMASK_PARAM)
    if raw is None:
        return False
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValidationError({UNMASK_PARAM: "true or false"})


class PiiMaskedSerializerMixin:
    """Masks the model's registered personal fields in every representation.

    Unmasked only when the view put ``pii_unmask: True`` and a ``pii_reads`` list in the context
    (the view then logs what was appended there); a serializer used anywhere else masks.
    """

    def to_representation(self, instance):
        data = super().to_representation(instance)
        fields = fields_of_model(type(instance))
        reads = self.context.get("pii_reads")
        unmask = bool(self.context.get("pii_unmask")) and reads is not None
        table = type(instance)._meta.db_table
        for name, strategy in fields.items():
            if name not in data:
                continue
            if unmask:
                reads.append((table, name, instance.pk))
            else:
                data[name] = mask_value(data[name], strategy)
        return data


def personal_query_params(view, query_params) -> list[str]:
    """The query parameters that filter ``view``'s list on a personal field: by name, or through a
    filter of its filterset whose ``field_name`` (a path, across relations too) ends on one."""
    model = view.queryset.model
    filters = getattr(getattr(view, "filterset_class", None), "base_filters", {})
    found = []
    for name in query_params:
        candidate = filters.get(name)
        path = getattr(candidate, "field_name", None) or name
        if personal_field_of_path(model, path) is not None:
            found.append(name)
    return sorted(found)


class PiiUnmaskViewMixin:
    """For viewsets whose serializers carry personal fields: explicit unmasking, logged atomically."""

    def dispatch(self, request, *args, **kwargs):
        self.pii_unmask = False
        self.pii_reads: list[tuple] = []
        if request.method not in SAFE_METHODS:
            return super().dispatch(request, *args, **kwargs)
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)
            if self.pii_reads and 200 <= response.status_code < 300:
                access_log_write(user=request.user, action=PiiAccessLog.Action.API_VIEW, reads=self.pii_reads)
        return response

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method in SAFE_METHODS:
            self.pii_unmask = unmask_allowed(request.user, requested=unmask_requested(request.query_params))
            # Filtering on a masked field would reveal it a substring at a time.
            filtered = personal_query_params(self, request.query_params)
            if filtered and not self.pii_unmask:
                raise ValidationError(
                    {name: "filtering on personal data needs unmask=true" for name in filtered}
                )

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["pii_unmask"] = getattr(self, "pii_unmask", False)
        context["pii_reads"] = getattr(self, "pii_reads", None)
        return context
