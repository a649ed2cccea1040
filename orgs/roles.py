"""The base roles (``users.role``) and what each may do, decided here and nowhere else.

- ``viewer`` reads its org's records and its org's ``org`` / ``public`` objects; writes nothing
  unless an object permission grants it.
- ``member`` reads as a viewer plus its own ``private`` objects; creates saved queries, alert
  definitions and address labels, and changes or deletes the ones it created.
- ``admin`` reads everything in its org (``private`` objects and the PII access log too); writes every
  object of its org: users (not owners), org roles, memberships, object permissions, jobs,
  invalidations.
- ``owner`` is an admin who also changes the org's settings and gives the owner role.

Superusers (Django's flag) read and write every org. ``public`` objects of other orgs are readable by
everyone and writable by nobody outside their org. Object permissions (guardian, granted to a user
directly or to an org role) add ``view_…`` / ``change_…`` / ``delete_…`` on one object, inside the org.
"""

from __future__ import annotations

from .models import User, UserRole

RANK = {UserRole.VIEWER: 0, UserRole.MEMBER: 1, UserRole.ADMIN: 2, UserRole.OWNER: 3}


def _active(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def is_platform_superuser(user) -> bool:
    """Superusers act across orgs; nobody else does."""
    return _active(user) and user.is_superuser


def has_role(user, minimum: str) -> bool:
    """True when ``user`` holds ``minimum`` or a higher base role (superusers hold every role)."""
    if not _active(user):
        return False
    if user.is_superuser:
        return True
    return RANK.get(user.role, -1) >= RANK[UserRole(minimum)]


def is_org_admin(user) -> bool:
    """Owners and admins manage their org: users, roles, memberships, object permissions."""
    return has_role(user, UserRole.ADMIN)


def can_create_content(user) -> bool:
    """Members and above create saved queries, alert definitions and address labels."""
    return has_role(user, UserRole.MEMBER)


def assignable_roles(actor: User) -> list[str]:
    """Base roles ``actor`` may give to a user: admins give up to admin, owners give owner too."""
    if has_role(actor, UserRole.OWNER):
        return list(UserRole.values)
    if is_org_admin(actor):
        return [UserRole.ADMIN, UserRole.MEMBER, UserRole.VIEWER]
    return []


# --- personal data ------------------------------------------------------------------------------
# Reading personal data unmasked is a right of its own, not of a base role: the Django permission
# ``pii.unmask_personal_data``, granted to a user directly or to an org role's group (the group is a
# Django auth group, so the permission applies to everyone holding the role). It only ever reveals
# what the user may already read; every surface also wants an explicit request (see ``pii.masking``).
# Auditing the access log is org admins' (their own org) or holders of ``pii.audit_personal_data``.


def can_unmask_personal_data(user) -> bool:
    return _active(user) and user.has_perm("pii.unmask_personal_data")


def can_audit_personal_data(user) -> bool:
    return is_org_admin(user) or (_active(user) and user.has_perm("pii.audit_personal_data"))
