"""Tenancy rules for alert definitions (visibility), events and deliveries (the org's members)."""

from __future__ import annotations

from orgs.roles import can_create_content
from orgs.selectors import org_admin_editable, org_member_visible, visibility_editable, visibility_visible
from platform_site.tenancy import register_scope

from .models import AlertDefinition, AlertDelivery, AlertEvent

register_scope(
    AlertDefinition,
    visible=visibility_visible,
    editable=visibility_editable,
    can_create=can_create_content,
)
register_scope(AlertEvent, visible=org_member_visible, editable=org_admin_editable())
register_scope(AlertDelivery, visible=org_member_visible, editable=org_admin_editable())
