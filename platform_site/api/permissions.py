"""The API's permission check: the tenancy registry decides, per model and per object."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from platform_site import tenancy


class TenancyPermission(BasePermission):
    """Reads: whatever the scoped queryset holds (anything else is already a 404). Creates: the
    model-level right of the user's base role. Changes and deletes: the object is in the user's
    editable set (visible but not editable is a 403)."""

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in SAFE_METHODS or getattr(view, "action", None) != "create":
            return True
        return tenancy.can_create(request.user, view.queryset.model)

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in SAFE_METHODS:
            return True
        action = "delete" if request.method == "DELETE" else "change"
        return tenancy.is_editable(request.user, obj, action)
