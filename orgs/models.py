"""Tenants, their users and the named roles inside them."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from platform_site.db import choices_check

from .settings_schema import org_settings_errors


class Visibility(models.TextChoices):
    """Who may read a saved query, alert definition or address label (writing needs more)."""

    PRIVATE = "private", "Private (creator and org admins)"
    ORG = "org", "Org (every member)"
    PUBLIC = "public", "Public (every user, read only)"


class Org(models.Model):
    """A tenant. Everything a user creates belongs to exactly one org."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.TextField()
    slug = models.TextField(unique=True)
    settings = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        db_table = "orgs"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        # Every write path (admin, API, services, shell) goes through here: no unchecked settings.
        if errors := org_settings_errors(self.settings, org_slug=self.slug):
            raise ValidationError({"settings": errors})
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if errors := org_settings_errors(self.settings, org_slug=self.slug):
            raise ValidationError({"settings": errors})


def platform_org() -> Org:
    """The org that owns the platform's own jobs; created on first use."""
    org, _ = Org.objects.get_or_create(slug=settings.PLATFORM_ORG_SLUG, defaults={"name": "Platform"})
    return org


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, external_id: str, password: str | None = None, **fields) -> User:
        if not external_id:
            raise ValueError("a user needs an external_id")
        if "org" not in fields and "org_id" not in fields:
            raise ValueError("a user needs an org")
        fields["email"] = self.normalize_email(fields.get("email", ""))
        user = self.model(external_id=external_id, **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, external_id: str, password: str | None = None, **fields) -> User:
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        fields.setdefault("role", User.Role.OWNER)
        if "org" not in fields and "org_id" not in fields:
            fields["org"] = platform_org()
        return self.create_user(external_id, password, **fields)


class UserRole(models.TextChoices):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


class User(AbstractBaseUser, PermissionsMixin):
    """A person or integration. ``external_id`` is the company SSO identity and the login name.

    ``role`` is the base role in the org; Django's ``is_staff`` / ``is_superuser`` flags and the
    password columns come on top of the diagram's columns.
    """

    Role = UserRole

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Org, on_delete=models.PROTECT, related_name="users")
    external_id = models.TextField(unique=True)
    email = models.TextField(blank=True, default="")
    role = models.TextField(choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    objects = UserManager()

    USERNAME_FIELD = "external_id"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        db_table = "users"
        ordering = ["external_id"]
        constraints = [choices_check("users", "role", UserRole)]
        indexes = [models.Index(fields=["org", "role"], name="users_org_role_idx")]

    def __str__(self) -> str:
        return self.external_id


class OrgRole(models.Model):
    """A named role inside an org (``oncall``, ``analyst``), backed by a guardian permission group
    so object permissions can be granted to everyone holding it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="roles")
    slug = models.TextField()
    name = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        db_table = "org_roles"
        ordering = ["org", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["org", "slug"], name="org_roles_org_slug_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.org.slug}:{self.slug}"


class OrgRoleMembership(models.Model):
    """A user holding an org role."""

    pk = models.CompositePrimaryKey("role_id", "user_id")
    role = models.ForeignKey(OrgRole, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_memberships")
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)

    class Meta:
        db_table = "org_role_memberships"
        indexes = [models.Index(fields=["user"], name="org_role_memberships_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.role_id}"
