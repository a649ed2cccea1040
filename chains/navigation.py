"""The chains section of the admin sidebar (registered from ``ChainsConfig.ready``)."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse


def chain_pages(request) -> list[dict]:
    if not (request.user.is_active and request.user.is_staff):
        return []
    try:
        return [{"title": "Contracts", "icon": "data_object", "link": reverse("admin:chains_contracts")}]
    except NoReverseMatch:
        return []
