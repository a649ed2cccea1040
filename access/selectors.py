"""Tenancy rules for API tokens: each user sees and revokes only their own."""

from __future__ import annotations

from platform_site.tenancy import register_scope

from .models import ApiToken


def tokens_of(user, queryset):
    return queryset.filter(user_id=user.pk)


register_scope(
    ApiToken,
    visible=tokens_of,
    editable=lambda user, queryset, action: tokens_of(user, queryset),
    can_create=lambda user: True,
    org_field="user__org",
)
