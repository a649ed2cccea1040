"""A member's query results are theirs: another member of the same org lists none of them, in the
API or the admin; an org admin sees the org's."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from testkit.factories import OrgFactory, QueryResultFactory, UserFactory


@pytest.fixture
def results(db):
    org = OrgFactory(slug="alpha")
    author = UserFactory(org=org, role="member", is_staff=True)
    colleague = UserFactory(org=org, role="member", is_staff=True)
    admin = UserFactory(org=org, role="admin", is_staff=True)
    theirs = [QueryResultFactory(org=org, user=author) for _ in range(3)]
    own = QueryResultFactory(org=org, user=colleague)
    return author, colleague, admin, theirs, own


def api_ids(user) -> set[str]:
    client = APIClient()
    client.force_authenticate(user)
    response = client.get("/api/v1/query-results/")
    assert response.status_code == 200
    return {row["id"] for row in response.json()["results"]}


def test_the_api_lists_only_the_members_own_results(results):
    author, colleague, admin, theirs, own = results
    assert api_ids(colleague) == {str(own.pk)}
    assert api_ids(author) == {str(r.pk) for r in theirs}
    assert api_ids(admin) == {str(r.pk) for r in [*theirs, own]}
    client = APIClient()
    client.force_authenticate(colleague)
    assert client.get(f"/api/v1/query-results/{theirs[0].pk}/").status_code == 404


def test_the_admin_lists_only_the_members_own_results(client, results):
    _, colleague, admin, theirs, own = results
    changelist = reverse("admin:queries_queryresult_changelist")
    client.force_login(colleague)
    page = client.get(changelist).content.decode()
    assert str(own.pk) in page
    assert not any(str(r.pk) in page for r in theirs)
    assert client.get(reverse("admin:queries_queryresult_change", args=[theirs[0].pk])).status_code == 404
    client.force_login(admin)
    page = client.get(changelist).content.decode()
    assert all(str(r.pk) in page for r in [*theirs, own])
