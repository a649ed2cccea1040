"""State changes of orgs, users, roles, memberships and object permissions."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from .groups import org_role_group
from .models import Org, OrgRole, OrgRoleMembership, User


def org_settings_update(*, org: Org, settings: dict) -> Org:
    """Replace the org's settings; a value outside the documented schema raises ValidationError."""
    org.settings = settings
    org.full_clean()
    org.save(update_fields=["settings"])
    return org


def org_role_create(*, org: Org, slug: str, name: str) -> OrgRole:
    role = OrgRole(org=org, slug=slug, name=name)
    role.full_clean()
    role.save()
    return role


def org_role_membership_add(*, role: OrgRole, user: User) -> OrgRoleMembership:
    """Put ``user`` in ``role`` (and its guardian group); both must belong to the same org."""
    if user.org_id != role.org_id:
        raise ValidationError({"user": "the user belongs to another org"})
    with transaction.atomic():
        membership, _ = OrgRoleMembership.objects.get_or_create(role=role, user=user)
    return membership


def org_role_membership_remove(*, role: OrgRole, user: User) -> None:
    with transaction.atomic():
        for membership in OrgRoleMembership.objects.filter(role=role, user=user):
            membership.delete()


def _check_same_org(obj, org_id) -> None:
    if getattr(obj, "org_id", None) != org_id:
        raise ValidationError("object permissions are granted only inside the object's org")


def object_permission_grant_to_role(*, role: OrgRole, permission: str, obj) -> None:
    """Grant ``permission`` (``change_alertdefinition``…) on ``obj`` to everyone holding ``role``."""
    _check_same_org(obj, role.org_id)
    assign_perm(permission, org_role_group(role), obj)


def object_permission_revoke_from_role(*, role: OrgRole, permission: str, obj) -> None:
    remove_perm(permission, org_role_group(role), obj)


def object_permission_grant_to_user(*, user: User, permission: str, obj) -> None:
    _check_same_org(obj, user.org_id)
    assign_perm(permission, user, obj)


def object_permission_revoke_from_user(*, user: User, permission: str, obj) -> None:
    remove_perm(permission, user, obj)
