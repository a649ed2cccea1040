"""Filters, search and ordering on a personal field are oracles on its raw value (``?email__startswith=j``
tells whether an e-mail starts with j, a page sorted by e-mail orders the masked values). On a masked
admin page they are refused with a message and not applied; on a page unmasked by a holder of the
right they run, and the page's reads are logged. The same holds through relations and in the API."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from pii.models import PiiAccessLog
from testkit.factories import UserFactory

pytestmark = pytest.mark.django_db


def _users_url():
    return reverse("admin:orgs_user_changelist")


@pytest.fixture
def people(org_a):
    return [
        UserFactory(org=org_a, external_id="u-jane", email="jane@example.com"),
        UserFactory(org=org_a, external_id="u-zed", email="zed@example.com"),
        UserFactory(org=org_a, external_id="u-amy", email="amy@example.com"),
    ]


def _shown(response) -> set[str]:
    return {user.external_id for user in response.context["cl"].result_list}


def _messages(response) -> str:
    return " ".join(str(message) for message in get_messages(response.wsgi_request))


@pytest.mark.parametrize("lookup", ["email__startswith", "email", "email__icontains", "email__regex"])
def test_a_filter_on_a_masked_field_is_refused_and_not_applied(client, reader, people, lookup):
    client.force_login(reader)
    response = client.get(_users_url(), {lookup: "j", "is_active__exact": "1"}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain and lookup not in response.redirect_chain[-1][0]
    assert "is_active__exact=1" in response.redirect_chain[-1][0]  # the other filters stay
    assert "orgs.User.email is personal data, masked on this page" in _messages(response)
    assert {"u-jane", "u-zed", "u-amy"} <= _shown(response)


def test_ordering_by_a_masked_field_is_refused(client, reader, people):
    client.force_login(reader)
    email_column = ["external_id", "email"].index("email")  # list_display of the user admin
    response = client.get(_users_url(), {"o": f"-{email_column}"}, follow=True)
    assert response.status_code == 200 and "o=" not in response.redirect_chain[-1][0]
    assert "Ordering refused" in _messages(response)


def test_a_search_does_not_look_in_a_masked_field_and_says_so(client, reader, people):
    client.force_login(reader)
    response = client.get(_users_url(), {"q": "jane@"})
    assert response.status_code == 200
    assert _shown(response) == set()  # the e-mail was not searched
    assert "did not look in email" in _messages(response)
    # Other fields are still searched.
    assert _shown(client.get(_users_url(), {"q": "u-zed"})) == {"u-zed"}


def test_the_autocomplete_does_not_search_a_masked_field(client, reader, people):
    client.force_login(reader)
    params = {"app_label": "queries", "model_name": "savedquery", "field_name": "user"}
    by_email = client.get(reverse("admin:autocomplete"), {**params, "term": "jane@"})
    assert by_email.status_code == 200 and by_email.json()["results"] == []
    by_id = client.get(reverse("admin:autocomplete"), {**params, "term": "u-jane"})
    assert [row["text"] for row in by_id.json()["results"]] != []


def test_a_filter_through_a_relation_is_refused_too(client, superuser, people):
    client.force_login(superuser)
    response = client.get(
        reverse("admin:pii_piiaccesslog_changelist"), {"user__email__startswith": "j"}, follow=True
    )
    assert response.status_code == 200
    assert "orgs.User.email is personal data" in _messages(response)


def test_the_unmasked_page_filters_searches_and_orders_and_logs_what_it_shows(client, unmasker, people):
    client.force_login(unmasker)
    response = client.get(_users_url(), {"unmask": "1", "email__startswith": "j"})
    assert response.status_code == 200 and _shown(response) == {"u-jane"}
    logged = PiiAccessLog.objects.filter(user=unmasker, action="admin_view", column_name="email")
    assert list(logged.values_list("record_id", flat=True)) == [people[0].pk]

    searched = client.get(_users_url(), {"unmask": "1", "q": "zed@"})
    assert _shown(searched) == {"u-zed"}

    email_column = ["external_id", "email"].index("email")
    ordered = client.get(_users_url(), {"unmask": "1", "o": str(email_column), "q": "@example.com"})
    names = [user.external_id for user in ordered.context["cl"].result_list if user.external_id[:2] == "u-"]
    assert names == ["u-amy", "u-jane", "u-zed"]


def test_unmasking_a_filtered_page_without_the_right_is_forbidden(client, reader, people):
    client.force_login(reader)
    assert client.get(_users_url(), {"unmask": "1", "email__startswith": "j"}).status_code == 403


def test_the_api_refuses_a_filter_on_a_masked_field_and_runs_it_unmasked(unmasker, people):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(unmasker)
    refused = api.get(reverse("user-list"), {"email": "jane"})
    assert refused.status_code == 400 and refused.json()["errors"][0]["attr"] == "email"
    unmasked = api.get(reverse("user-list"), {"email": "jane", "unmask": "true"})
    assert unmasked.status_code == 200
    assert [row["external_id"] for row in unmasked.json()["results"]] == ["u-jane"]
    assert PiiAccessLog.objects.filter(user=unmasker, action="api_view", record_id=people[0].pk).exists()


def test_a_sidebar_filter_on_a_masked_field_is_not_offered(rf, reader, people):
    from django.contrib import admin

    from orgs.models import User

    model_admin = admin.site._registry[User]
    request = rf.get("/")
    request.user = reader
    original = model_admin.list_filter
    offered = model_admin.get_list_filter(request)
    try:
        model_admin.list_filter = [*original, "email", ("email", admin.AllValuesFieldListFilter)]
        assert model_admin.get_list_filter(request) == offered
    finally:
        model_admin.list_filter = original
