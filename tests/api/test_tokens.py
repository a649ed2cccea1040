"""Per-user API tokens: hashed at rest, shown once, expiring, revocable, with a last-used time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from access.models import ApiToken


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def issued(api):
    response = api.post("/api/v1/tokens/", {"name": "ci", "expires_in_days": 30}, format="json")
    assert response.status_code == 201
    return response.json()


@pytest.mark.django_db
def test_a_token_authenticates_and_records_last_use(issued, owner_a):
    assert ApiToken.objects.get(token_key=issued["token_key"]).last_used_at is None
    response = bearer(issued["token"]).get("/api/v1/jobs/")
    assert response.status_code == 200
    stored = ApiToken.objects.get(token_key=issued["token_key"])
    assert stored.user == owner_a
    assert stored.last_used_at is not None
    assert timezone.now() - stored.last_used_at < timedelta(minutes=1)


@pytest.mark.django_db
def test_the_token_is_not_recoverable_from_the_database(issued):
    secret = issued["token"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(t)::text FROM api_tokens t")
        rows = [row[0] for row in cursor.fetchall()]
    assert rows and all(secret not in row for row in rows)
    # The stored prefix alone does not authenticate.
    assert bearer(issued["token_key"]).get("/api/v1/jobs/").status_code == 401
    # Nor does the listing show the secret again.
    listing = bearer(secret).get("/api/v1/tokens/").json()["results"]
    assert [row.get("token") for row in listing] == [None]


@pytest.mark.django_db
def test_a_revoked_token_is_refused(issued):
    client = bearer(issued["token"])
    assert client.delete(f"/api/v1/tokens/{issued['token_key']}/").status_code == 204
    response = client.get("/api/v1/jobs/")
    assert response.status_code == 401
    assert response.json()["type"] == "client_error"
    assert not ApiToken.objects.filter(token_key=issued["token_key"]).exists()


@pytest.mark.django_db
def test_an_expired_token_is_refused(issued):
    ApiToken.objects.filter(token_key=issued["token_key"]).update(
        expiry=timezone.now() - timedelta(seconds=1)
    )
    assert bearer(issued["token"]).get("/api/v1/jobs/").status_code == 401


@pytest.mark.django_db
def test_a_token_of_an_inactive_user_is_refused(issued, owner_a):
    owner_a.is_active = False
    owner_a.save(update_fields=["is_active"])
    assert bearer(issued["token"]).get("/api/v1/jobs/").status_code == 401


@pytest.mark.django_db
def test_users_cannot_revoke_each_others_tokens(issued, make_client, org_a):
    from testkit.factories import UserFactory

    colleague = make_client(UserFactory(org=org_a, role="admin"))
    assert colleague.delete(f"/api/v1/tokens/{issued['token_key']}/").status_code == 404
    assert bearer(issued["token"]).get("/api/v1/jobs/").status_code == 200


@pytest.mark.django_db
def test_token_lifetime_is_validated(api):
    response = api.post("/api/v1/tokens/", {"expires_in_days": 0}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "expires_in_days"
    assert not ApiToken.objects.exists()
