"""Tenancy rules for orgs, users, roles and memberships, and the shared visibility rule.

The base roles' rights are in :mod:`orgs.roles`; this module turns them into querysets.
"""

from __future__ import annotations

from functools import cache

from django.db import models
from django.db.models import Q
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from platform_site.tenancy import register_scope

from .models import Org, OrgRole, OrgRoleMembership, User, UserRole, Visibility
from .roles import can_create_content, has_role, is_org_admin


@cache
def object_grant_tables(model: type[models.Model]) -> tuple[type, type] | None:
    """guardian's direct (user, group) permission tables of ``model`` (the access app declares them),
    found from the foreign keys pointing at it; None when its objects are not granted one by one."""
    tables: dict[type, type] = {}
    for relation in model._meta.related_objects:
        if relation.field.name != "content_object":
            continue
        for base in (UserObjectPermissionBase, GroupObjectPermissionBase):
            if issubclass(relation.related_model, base):
                tables[base] = relation.related_model
    if len(tables) < 2:
        return None
    return tables[UserObjectPermissionBase], tables[GroupObjectPermissionBase]


def granted_q(user: User, model: type[models.Model], codenames: list[str]) -> Q:
    """Objects of ``model`` on which ``user`` holds one of ``codenames`` through guardian, directly
    or through an org role's group (two indexed subqueries, no per-object checks)."""
    user_table, group_table = object_grant_tables(model)
    codenames = [f"{codename}_{model._meta.model_name}" for codename in codenames]
    direct = user_table.objects.filter(user=user, permission__codename__in=codenames)
    through_roles = group_table.objects.filter(group__user=user, permission__codename__in=codenames)
    return Q(pk__in=direct.values("content_object_id")) | Q(pk__in=through_roles.values("content_object_id"))


def visibility_visible(user: User, queryset: models.QuerySet) -> models.QuerySet:
    """``public`` for everyone; ``org`` for the org; ``private`` for its creator, org admins and
    holders of an object permission on it."""
    model = queryset.model
    in_org = Q(org_id=user.org_id)
    if is_org_admin(user):
        return queryset.filter(Q(visibility=Visibility.PUBLIC) | in_org)
    readable_in_org = Q(visibility=Visibility.ORG) | Q(user_id=user.pk)
    readable_in_org |= granted_q(user, model, ["view", "change", "delete"])
    return queryset.filter(Q(visibility=Visibility.PUBLIC) | (in_org & readable_in_org))


def visibility_editable(user: User, queryset: models.QuerySet, action: str) -> models.QuerySet:
    """Writing needs the org plus ownership (member or above), org admin, or a granted permission."""
    queryset = queryset.filter(org_id=user.org_id)
    if is_org_admin(user):
        return queryset
    allowed = granted_q(user, queryset.model, [action])
    if can_create_content(user):
        allowed |= Q(user_id=user.pk)
    return queryset.filter(allowed)


def org_member_visible(user: User, queryset: models.QuerySet, org_field: str = "org") -> models.QuerySet:
    return queryset.filter(**{f"{org_field}_id": user.org_id})


def org_admin_editable(org_field: str = "org"):
    def editable(user: User, queryset: models.QuerySet, action: str) -> models.QuerySet:
        if not is_org_admin(user):
            return queryset.none()
        return queryset.filter(**{f"{org_field}_id": user.org_id})

    return editable


def namespace_q(namespaces: list[str], field: str = "dataset") -> Q:
    condition = Q(pk__in=[])
    for namespace in namespaces:
        condition |= Q(**{f"{field}__startswith": f"{namespace}."})
    return condition


# --- users ---------------------------------------------------------------------------------

# Logins are unique across orgs; saying "already exists" would tell an org's admin who has an
# account in another org. Every surface refuses a taken id with this one message instead.
EXTERNAL_ID_UNAVAILABLE = "This external id cannot be used; choose another."


def external_id_taken(external_id: str, *, exclude_pk=None) -> bool:
    taken = User.objects.filter(external_id=external_id)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    return taken.exists()


# --- orgs -------------------------------------------------------------------------------------


def _org_visible(user, queryset):
    return queryset.filter(pk=user.org_id)


def _org_editable(user, queryset, action):
    # Only owners change their org (its settings); nobody but a superuser deletes one.
    if action == "change" and has_role(user, UserRole.OWNER):
        return queryset.filter(pk=user.org_id)
    return queryset.none()


def _user_editable(user, queryset, action):
    if not is_org_admin(user):
        return queryset.none()
    queryset = queryset.filter(org_id=user.org_id, is_superuser=False)
    if not has_role(user, UserRole.OWNER):
        queryset = queryset.exclude(role=UserRole.OWNER)
    return queryset


def _membership_editable(user, queryset, action):
    return queryset.filter(role__org_id=user.org_id) if is_org_admin(user) else queryset.none()


register_scope(Org, visible=_org_visible, editable=_org_editable, org_field=None)
register_scope(User, visible=org_member_visible, editable=_user_editable, can_create=is_org_admin)
register_scope(OrgRole, visible=org_member_visible, editable=org_admin_editable(), can_create=is_org_admin)
register_scope(
    OrgRoleMembership,
    visible=lambda user, queryset: queryset.filter(role__org_id=user.org_id),
    editable=_membership_editable,
    can_create=is_org_admin,
    org_field="role__org",
)
