"""A taken external id is refused with one message that does not say another org's user has it."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from orgs.models import User
from orgs.selectors import EXTERNAL_ID_UNAVAILABLE
from testkit.factories import OrgFactory, UserFactory


@pytest.fixture
def taken(db):
    return UserFactory(org=OrgFactory(slug="bravo"), external_id="ceo@bravo")


@pytest.fixture
def admin_a(db):
    return UserFactory(org=OrgFactory(slug="alpha"), role="owner", is_staff=True)


def test_the_api_refuses_a_taken_id_without_saying_it_exists(admin_a, taken):
    client = APIClient()
    client.force_authenticate(admin_a)
    response = client.post("/api/v1/users/", {"external_id": "ceo@bravo", "role": "member"}, format="json")
    assert response.status_code == 400
    body = str(response.json())
    assert EXTERNAL_ID_UNAVAILABLE in body and "already exists" not in body
    assert User.objects.filter(external_id="ceo@bravo").count() == 1
    free = client.post("/api/v1/users/", {"external_id": "new@alpha", "role": "member"}, format="json")
    assert free.status_code == 201, free.json()


def test_the_admin_refuses_a_taken_id_without_saying_it_exists(client, admin_a, taken):
    client.force_login(admin_a)
    data = {
        "external_id": "ceo@bravo",
        "email": "x@example.com",
        "org": str(admin_a.org_id),
        "role": "member",
        "password1": "Pw-for-a-new-user-91",
        "password2": "Pw-for-a-new-user-91",
    }
    response = client.post(reverse("admin:orgs_user_add"), data)
    page = response.content.decode()
    assert response.status_code == 200
    assert EXTERNAL_ID_UNAVAILABLE.replace("'", "&#x27;") in page and "already exists" not in page
    assert User.objects.filter(external_id="ceo@bravo").count() == 1
