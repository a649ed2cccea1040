"""Changing a password ends every API token issued under the old one; other saves do not."""

import pytest

from access.models import ApiToken
from access.services import api_token_create
from testkit.factories import UserFactory


@pytest.mark.django_db
def test_a_password_change_revokes_the_users_tokens(client, org_a, make_client):
    user = UserFactory(org=org_a, role="admin")
    other = UserFactory(org=org_a)
    _, secret = api_token_create(user=user, name="ci")
    api_token_create(user=other, name="theirs")
    user.last_login = None
    user.save(update_fields=["last_login"])
    user.email = "renamed@example.com"
    user.save()
    assert ApiToken.objects.filter(user=user).count() == 1  # no password change yet
    user.set_password("a brand new password 42")
    user.save()
    assert not ApiToken.objects.filter(user=user).exists()
    assert ApiToken.objects.filter(user=other).count() == 1
    from rest_framework.test import APIClient

    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert bearer.get("/api/v1/jobs/").status_code == 401


@pytest.mark.django_db
def test_a_password_set_through_the_api_revokes_tokens(api, org_a):
    user = UserFactory(org=org_a, role="member")
    api_token_create(user=user, name="ci")
    response = api.patch(f"/api/v1/users/{user.pk}/", {"password": "Another-strong-pass-77"}, format="json")
    assert response.status_code == 200, response.json()
    assert not ApiToken.objects.filter(user=user).exists()
