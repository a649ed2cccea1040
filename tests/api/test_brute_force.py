"""Guessing is slowed down: wrong admin passwords lock the login out (django-axes), and refused API
tokens are throttled per client address."""

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from access.services import api_token_create
from testkit.factories import UserFactory


@pytest.fixture
def staff(org_a):
    return UserFactory(org=org_a, role="owner", is_staff=True, external_id="admin@alpha")


def login(client: Client, password: str):
    return client.post(
        reverse("admin:login"),
        {"username": "admin@alpha", "password": password, "next": "/admin/"},
        REMOTE_ADDR=client.defaults.get("REMOTE_ADDR", "127.0.0.1"),
    )


@pytest.mark.django_db
def test_wrong_admin_passwords_lock_the_login_out(settings, staff):
    settings.AXES_FAILURE_LIMIT = 3
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(2):
        assert login(attacker, "guess").status_code == 200  # the form again, with its error
    assert login(attacker, "guess").status_code == 429
    # Locked: even the right password is refused from that address, and no session is made.
    response = login(attacker, "pw-for-tests")
    assert response.status_code == 429
    assert "_auth_user_id" not in attacker.session
    # The lock is per login and address: the user still logs in from elsewhere.
    office = Client(REMOTE_ADDR="198.51.100.20")
    assert login(office, "pw-for-tests").status_code == 302
    assert office.session["_auth_user_id"] == str(staff.pk)


@pytest.mark.django_db
def test_refused_tokens_are_throttled_per_address(settings, owner_a):
    settings.API_THROTTLE_FAILED_TOKEN = "3/min"
    cache.clear()
    _, secret = api_token_create(user=owner_a, name="ci")
    guesser = APIClient(REMOTE_ADDR="203.0.113.7")
    guesser.credentials(HTTP_AUTHORIZATION="Token " + "0" * 64)
    assert [guesser.get("/api/v1/jobs/").status_code for _ in range(3)] == [401, 401, 401]
    assert guesser.get("/api/v1/jobs/").status_code == 429
    # From that address even a good token waits; from another it works.
    guesser.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    throttled = guesser.get("/api/v1/jobs/")
    assert throttled.status_code == 429 and "Retry-After" in throttled
    elsewhere = APIClient(REMOTE_ADDR="198.51.100.20")
    elsewhere.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert elsewhere.get("/api/v1/jobs/").status_code == 200


@pytest.mark.django_db
def test_good_tokens_are_not_counted(settings, owner_a):
    settings.API_THROTTLE_FAILED_TOKEN = "2/min"
    cache.clear()
    _, secret = api_token_create(user=owner_a, name="ci")
    client = APIClient(REMOTE_ADDR="198.51.100.30")
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert {client.get("/api/v1/jobs/").status_code for _ in range(5)} == {200}
