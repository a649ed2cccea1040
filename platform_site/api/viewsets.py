"""The org-scoped base viewsets every API resource derives from.

Scoping cannot be forgotten or bypassed: :class:`OrgScopedViewSet` resolves the queryset through the
tenancy registry (``platform_site.tenancy``) and refuses, at class creation, a subclass that defines
its own ``get_queryset``. Subclasses narrow with ``filterset_class`` and declare ``queryset`` only as
the base (select_related and the like). Objects outside the user's scope are 404, whatever the verb.

Writes run in a transaction that re-checks, after saving, that the object is still inside what the
user may change (a foreign key or dataset pointed at another org rolls the write back as a 404).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework import mixins, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated

from platform_site import tenancy

from .pagination import KeysetPagination
from .permissions import TenancyPermission


class OrgScopedViewSet(viewsets.GenericViewSet):
    permission_classes = [IsAuthenticated, TenancyPermission]

    # Resolved on every subclass to these very functions: a subclass (or a DRF mixin listed before
    # this class) that replaced one would step around the scope or the write re-check.
    FIXED = ("get_queryset", "get_object", "perform_create", "perform_update", "perform_destroy")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in cls.FIXED:
            if getattr(cls, name) is not getattr(OrgScopedViewSet, name):
                raise TypeError(
                    f"{cls.__name__}.{name} is not OrgScopedViewSet's: list OrgScopedViewSet first among "
                    "the bases and narrow with filterset_class instead of overriding it"
                )

    def get_queryset(self):
        base = self.queryset.all()
        if getattr(self, "swagger_fake_view", False):
            return base.none()
        return tenancy.visible_to(self.request.user, base)

    def forced_attributes(self) -> dict:
        """What a create takes from the request's user, never from input: the org, the creator."""
        model = self.queryset.model
        scope = tenancy.scope_for(model)
        forced = {}
        if scope.org_field == "org":
            forced["org"] = self.request.user.org
        # The creator column (saved queries, alert definitions, labels, tokens) is the caller.
        if model is not get_user_model() and any(
            f.name == "user" and f.many_to_one for f in model._meta.get_fields()
        ):
            forced["user"] = self.request.user
        return forced

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self, "action", None) == "create" and self.request.user.is_authenticated:
            context["forced"] = self.forced_attributes()
        return context

    def perform_create(self, serializer):
        with transaction.atomic():
            instance = serializer.save(**self.forced_attributes())
            if not tenancy.is_editable(self.request.user, instance):
                raise NotFound()

    def perform_update(self, serializer):
        with transaction.atomic():
            instance = serializer.save()
            if not tenancy.is_editable(self.request.user, instance):
                raise NotFound()

    def perform_destroy(self, instance):
        with transaction.atomic():
            instance.delete()


class ReadOnlyRecordViewSet(OrgScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Records the platform writes (tasks, events, results): read-only, keyset-paginated."""

    pagination_class = KeysetPagination
    keyset_field = "created_at"


class RecordListViewSet(OrgScopedViewSet, mixins.ListModelMixin):
    """Composite-key records (catalog, task inputs, lineage): a filtered list, no detail URL."""


class OrgScopedModelViewSet(
    OrgScopedViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
):
    """Full CRUD inside the user's scope."""
