"""The OpenAPI schema and its viewers are served locally, and the scoped base viewset cannot be bypassed."""

from __future__ import annotations

import pytest
from rest_framework import mixins

from platform_site.api.viewsets import OrgScopedViewSet


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/schema/swagger/", "/api/schema/redoc/"])
def test_viewers_load_their_assets_from_this_server(client, url):
    body = client.get(url).content.decode()
    assert "drf_spectacular_sidecar" in body
    assert "cdn." not in body and "unpkg" not in body


@pytest.mark.django_db
def test_schema_documents_token_auth_and_the_api(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json()
    assert "tokenAuth" in schema["components"]["securitySchemes"]
    assert "/api/v1/tasks/" in schema["paths"]


def test_a_viewset_cannot_replace_the_scoped_queryset():
    with pytest.raises(TypeError, match="get_queryset"):

        class Leaky(OrgScopedViewSet):
            def get_queryset(self):
                return super().get_queryset().model.objects.all()


def test_a_mixin_listed_first_cannot_replace_the_scoped_writes():
    with pytest.raises(TypeError, match="perform_create"):

        class Misordered(mixins.CreateModelMixin, OrgScopedViewSet):
            pass
