"""The admin's tenancy: one mixin that scopes every ModelAdmin by the tenancy registry.

Non-superuser staff see only what :func:`platform_site.tenancy.visible_to` gives them, change only
what :func:`~platform_site.tenancy.editable_by` gives them, pick foreign keys only inside their org,
and get a 404 (not a redirect, not the object) for anything else. Superusers see every org.

:class:`platform_site.admin_site.PlatformAdminSite` applies the mixin at registration to every model
that has a tenancy scope (this app hands it the classes from its ``ready()``), so an admin class
written without it is scoped all the same; models with no scope (Django's groups, django-q2's queue)
are for superusers only. Models carrying object permissions also get guardian's "Object permissions"
pages, limited to org admins and to the org's own users and roles.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.http import Http404
from guardian.admin import GuardedModelAdminMixin

from platform_site import tenancy
from platform_site.admin_lookups import CheckedFiltersAdminMixin, value_error

from .groups import GROUP_PREFIX, org_role_group_name
from .models import OrgRole
from .roles import is_org_admin
from .selectors import object_grant_tables


def _is_superuser(request) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


class OrgScopedAdminMixin(CheckedFiltersAdminMixin):
    """Scopes querysets, permissions, foreign-key choices and saves of a ModelAdmin to the user's org."""

    tenancy_scoped = True

    def get_queryset(self, request):
        queryset = tenancy.visible_to(request.user, super().get_queryset(request))
        org_field = tenancy.scope_for(self.model).org_field
        if _is_superuser(request) or not org_field:
            return queryset
        # Staff work on their own org in the admin: other orgs' public objects stay readable through
        # the API and queries, but never appear among the rows an org's staff manage.
        return queryset.filter(**{org_field: request.user.org_id})

    def has_module_permission(self, request) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_view_permission(self, request, obj=None) -> bool:
        if not self.has_module_permission(request):
            return False
        return obj is None or tenancy.is_visible(request.user, obj)

    def _wrapped_admin_allows(self, name: str, *args) -> bool:
        """The wrapped admin's own answer where it overrides a permission (the append-only access log
        allows no add, change or delete); tenancy may only narrow what an admin class allows."""
        own = getattr(super(), name)
        if own.__func__ is getattr(admin.ModelAdmin, name):
            return True
        return own(*args)

    def has_add_permission(self, request, *args) -> bool:
        return (
            self.has_module_permission(request)
            and self._wrapped_admin_allows("has_add_permission", request, *args)
            and tenancy.can_create(request.user, self.model)
        )

    def has_change_permission(self, request, obj=None) -> bool:
        if not self.has_module_permission(request):
            return False
        if not self._wrapped_admin_allows("has_change_permission", request, obj):
            return False
        if obj is None:
            # Model level, without a query (the admin asks for every model on every page): org
            # admins change their org's rows, members their own, anyone what a grant allows.
            return (
                is_org_admin(request.user)
                or tenancy.can_create(request.user, self.model)
                or object_grant_tables(self.model) is not None
            )
        return tenancy.is_editable(request.user, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        if not self.has_module_permission(request):
            return False
        if not self._wrapped_admin_allows("has_delete_permission", request, obj):
            return False
        if obj is None:
            return is_org_admin(request.user)
        return tenancy.is_editable(request.user, obj, "delete")

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        if _is_superuser(request):
            return filters
        # A related-field filter lists every row of the related table; offer only related rows that
        # appear in the (scoped) list, so no other org's names leak through the sidebar.
        scoped = []
        for entry in filters:
            if isinstance(entry, str) and "__" not in entry and self._is_relation(entry):
                entry = (entry, admin.RelatedOnlyFieldListFilter)
            scoped.append(entry)
        return scoped

    def _is_relation(self, name: str) -> bool:
        try:
            return self.model._meta.get_field(name).is_relation
        except FieldDoesNotExist:
            return False

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        # The creator of a saved query, alert definition or label is whoever created it.
        if not _is_superuser(request) and self._has_creator_field() and "user" not in readonly:
            readonly.append("user")
        return readonly

    def _has_creator_field(self) -> bool:
        try:
            field = self.model._meta.get_field("user")
        except FieldDoesNotExist:
            return False
        return bool(field.many_to_one)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = db_field.related_model
        if not _is_superuser(request) and tenancy.has_scope(related):
            kwargs["queryset"] = same_org_choices(request.user, related)
            if related._meta.label_lower == "orgs.org":
                kwargs.setdefault("initial", request.user.org_id)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not change and not _is_superuser(request) and self._has_creator_field():
            obj.user = request.user
        super().save_model(request, obj, form, change)
        # The save runs inside the change view's transaction: refusing here rolls it back.
        if not tenancy.is_editable(request.user, obj):
            raise PermissionDenied

    def get_object(self, request, object_id, from_field=None):
        # Missing and forbidden look the same (404), before any permission check can tell them apart
        # with a 403, and without Django's redirect to the list.
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404(f"No {self.opts.verbose_name} with this id.")
        return obj


def same_org_choices(user, model):
    """Foreign-key choices: visible rows of ``model`` that belong to ``user``'s org (a public object
    of another org is readable, but nothing here may point at it)."""
    queryset = tenancy.visible_to(user, model)
    scope = tenancy.scope_for(model)
    if scope.org_field:
        queryset = queryset.filter(**{f"{scope.org_field}_id": user.org_id})
    return queryset


class SuperuserOnlyAdminMixin(CheckedFiltersAdminMixin):
    """For models outside the tenancy registry (auth groups, the task queue): superusers only."""

    def has_module_permission(self, request) -> bool:
        return _is_superuser(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return _is_superuser(request) and super().has_view_permission(request, obj)

    def has_add_permission(self, request, *args) -> bool:
        return _is_superuser(request) and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None) -> bool:
        return _is_superuser(request) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return _is_superuser(request) and super().has_delete_permission(request, obj)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if _is_superuser(request) else queryset.none()


class OrgObjectPermissionsMixin(GuardedModelAdminMixin):
    """guardian's object-permission pages, for org admins, over the org's own users and roles."""

    def _require_org_admin(self, request, object_pk):
        obj = self.get_object(request, object_pk)
        if obj is None:
            raise Http404
        if not (is_org_admin(request.user) and tenancy.is_editable(request.user, obj)):
            raise PermissionDenied
        return obj

    def get_obj_perms_user_select_form(self, request):
        users = same_org_choices(request.user, get_user_model()).filter(is_active=True)

        class UserSelect(forms.Form):
            user = forms.ModelChoiceField(queryset=users, label="User of your org")

        return UserSelect

    def get_obj_perms_group_select_form(self, request):
        role_ids = same_org_choices(request.user, OrgRole).values_list("pk", flat=True)
        groups = Group.objects.filter(name__in=[f"{GROUP_PREFIX}{pk}" for pk in role_ids])

        class RoleSelect(forms.Form):
            group = forms.ModelChoiceField(queryset=groups, label="Org role")

        return RoleSelect

    def obj_perms_manage_view(self, request, object_pk):
        self._require_org_admin(request, object_pk)
        return super().obj_perms_manage_view(request, object_pk)

    def obj_perms_manage_user_view(self, request, object_pk, user_id):
        self._require_org_admin(request, object_pk)
        if not _is_pk_of(get_user_model(), user_id):
            raise Http404
        if not same_org_choices(request.user, get_user_model()).filter(pk=user_id).exists():
            raise Http404
        return super().obj_perms_manage_user_view(request, object_pk, user_id)

    def obj_perms_manage_group_view(self, request, object_pk, group_id):
        self._require_org_admin(request, object_pk)
        if not _is_pk_of(Group, group_id):
            raise Http404
        role_ids = same_org_choices(request.user, OrgRole).values_list("pk", flat=True)
        names = [org_role_group_name(pk) for pk in role_ids]
        if not Group.objects.filter(pk=group_id, name__in=names).exists():
            raise Http404
        return super().obj_perms_manage_group_view(request, object_pk, group_id)


def _is_pk_of(model, value) -> bool:
    """Whether ``value`` (from the URL) can be a primary key of ``model`` at all."""
    return value_error(model, model._meta.pk.name, str(value)) is None


def scoped_admin_class(model, admin_class: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    """``admin_class`` with the tenancy mixin (and object-permission pages where the model has
    them) in front, unless it already has them."""
    bases: list[type] = []
    attributes = {"__module__": admin_class.__module__}
    if not getattr(admin_class, "tenancy_scoped", False):
        bases.append(OrgScopedAdminMixin)
    if object_grant_tables(model) is not None and not issubclass(admin_class, GuardedModelAdminMixin):
        bases.append(OrgObjectPermissionsMixin)
        attributes["change_form_template"] = (
            admin_class.change_form_template or GuardedModelAdminMixin.change_form_template
        )
    if not bases:
        return admin_class
    return type(admin_class.__name__, (*bases, admin_class), attributes)


def superuser_only_admin_class(admin_class: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    if issubclass(admin_class, SuperuserOnlyAdminMixin):
        return admin_class
    return type(
        admin_class.__name__, (SuperuserOnlyAdminMixin, admin_class), {"__module__": admin_class.__module__}
    )
