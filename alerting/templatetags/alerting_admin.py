"""Template tags of the alerting admin: the delivery counts on the app index."""

from django import template

from ..selectors import delivery_counts

register = template.Library()


@register.simple_tag(takes_context=True)
def alert_delivery_counts(context) -> dict:
    """Due, failed and dead deliveries of the user's org (every org for superusers)."""
    user = context["request"].user
    if user.is_superuser:
        return delivery_counts()
    if not getattr(user, "org_id", None):
        return {}
    return delivery_counts(org=user.org)
