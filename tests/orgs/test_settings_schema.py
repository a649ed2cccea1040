"""orgs.settings is checked against its schema on every write path."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from orgs.models import Org
from orgs.services import org_settings_update
from orgs.settings_schema import DEFAULTS, org_settings, org_settings_errors
from testkit.factories import OrgFactory, UserFactory


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"query_timeout_seconds": 0}, "query_timeout_seconds"),
        ({"query_timeout_seconds": "60"}, "query_timeout_seconds"),
        ({"query_timout_seconds": 60}, "Additional properties"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ([], "settings"),
    ],
)
def test_bad_settings_are_named(value, problem):
    errors = org_settings_errors(value)
    assert errors and any(problem in error for error in errors)


def test_defaults_fill_missing_keys():
    assert org_settings({"query_threads": 4}) == {**DEFAULTS, "query_threads": 4}
    assert org_settings_errors({"timezone": "Europe/Paris", "query_threads": 4}) == []


@pytest.mark.django_db
def test_model_save_refuses_and_keeps_the_stored_value():
    org = OrgFactory(settings={"query_threads": 2})
    org.settings = {"query_threads": 999}
    with pytest.raises(ValidationError):
        org.save()
    with pytest.raises(ValidationError):
        org_settings_update(org=Org.objects.get(pk=org.pk), settings={"nope": 1})
    assert Org.objects.get(pk=org.pk).settings == {"query_threads": 2}


@pytest.mark.django_db
def test_api_answers_400_with_the_field():
    org = OrgFactory(settings={"query_threads": 2})
    client = APIClient()
    client.force_authenticate(UserFactory(org=org, role="owner"))
    response = client.patch(f"/api/v1/orgs/{org.pk}/", {"settings": {"query_threads": 0}}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"].startswith("settings")
    assert Org.objects.get(pk=org.pk).settings == {"query_threads": 2}
    ok = client.patch(f"/api/v1/orgs/{org.pk}/", {"settings": {"query_threads": 8}}, format="json")
    assert ok.status_code == 200 and ok.json()["settings"] == {"query_threads": 8}


@pytest.mark.django_db
def test_only_owners_change_settings():
    org = OrgFactory()
    client = APIClient()
    client.force_authenticate(UserFactory(org=org, role="admin"))
    response = client.patch(f"/api/v1/orgs/{org.pk}/", {"settings": {"query_threads": 8}}, format="json")
    assert response.status_code == 403
