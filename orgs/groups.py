"""Each org role is backed by a Django auth group, the thing guardian grants object permissions to.

The diagram gives ``org_roles`` no column for it, so the group is found by a name derived from the
role's id (stable across renames). Signals keep groups and their members in step with roles and
memberships on every path, including cascades (deleting an org, a role or a user).
"""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import OrgRole, OrgRoleMembership

GROUP_PREFIX = "org_role:"


def org_role_group_name(role_id) -> str:
    return f"{GROUP_PREFIX}{role_id}"


def org_role_group(role: OrgRole) -> Group:
    """The guardian group of ``role``, created if it is missing."""
    group, _ = Group.objects.get_or_create(name=org_role_group_name(role.pk))
    return group


@receiver(post_save, sender=OrgRole)
def _role_saved(sender, instance: OrgRole, created: bool, **kwargs) -> None:
    if created:
        org_role_group(instance)


@receiver(post_delete, sender=OrgRole)
def _role_deleted(sender, instance: OrgRole, **kwargs) -> None:
    Group.objects.filter(name=org_role_group_name(instance.pk)).delete()


@receiver(post_save, sender=OrgRoleMembership)
def _membership_saved(sender, instance: OrgRoleMembership, **kwargs) -> None:
    org_role_group(instance.role).user_set.add(instance.user_id)


@receiver(post_delete, sender=OrgRoleMembership)
def _membership_deleted(sender, instance: OrgRoleMembership, **kwargs) -> None:
    group = Group.objects.filter(name=org_role_group_name(instance.role_id)).first()
    if group is not None:
        group.user_set.remove(instance.user_id)
