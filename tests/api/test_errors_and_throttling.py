"""One error body for every failure, 400s with field errors that lose nothing, and throttling."""

from __future__ import annotations

import pytest
from rest_framework.throttling import UserRateThrottle

from orchestration.models import Job
from testkit.factories import JobFactory, SavedQueryFactory, UserFactory


@pytest.mark.django_db
def test_validation_errors_name_the_fields_and_store_nothing(api):
    response = api.post(
        "/api/v1/jobs/", {"name": "x", "runtime": "cobol", "max_attempts": 0, "dag_name": "d"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "validation_error"
    assert {"runtime", "operator"} <= {error["attr"] for error in body["errors"]}
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_model_validation_runs_on_api_writes(api, org_a):
    JobFactory(org=org_a, name="dup")
    body = {"name": "dup", "dag_name": "d", "runtime": "sql", "operator": "duckdb_sql", "max_attempts": 0}
    response = api.post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 400
    attrs = {error["attr"] for error in response.json()["errors"]}
    assert "max_attempts" in attrs or "non_field_errors" in attrs
    assert Job.objects.filter(org=org_a).count() == 1


@pytest.mark.django_db
def test_not_found_and_forbidden_have_the_same_shape(api, make_client, org_a):
    missing = api.get("/api/v1/jobs/00000000-0000-0000-0000-000000000000/")
    assert missing.status_code == 404
    assert missing.json() == {
        "type": "client_error",
        "errors": [{"code": "not_found", "detail": missing.json()["errors"][0]["detail"], "attr": None}],
    }
    viewer = make_client(UserFactory(org=org_a, role="viewer"))
    forbidden = viewer.post("/api/v1/jobs/", {}, format="json")
    assert forbidden.status_code == 403
    assert forbidden.json()["errors"][0]["code"] == "permission_denied"


@pytest.mark.django_db
def test_deleting_a_referenced_user_is_a_conflict_not_a_500(client, org_a):
    # Users are deleted in the admin (the API does not route the verb); one who created saved
    # queries is protected: the admin names what refers to them and deletes nothing.
    from django.urls import reverse

    from orgs.models import User
    from queries.models import SavedQuery

    owner = UserFactory(org=org_a, role="owner", is_staff=True)
    user = UserFactory(org=org_a)
    saved = SavedQueryFactory(org=org_a, user=user, name="whale watch")
    client.force_login(owner)
    url = reverse("admin:orgs_user_delete", args=[user.pk])
    response = client.post(url, {"post": "yes"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "would require deleting the following protected related objects" in page
    assert "whale watch" in page
    assert User.objects.filter(pk=user.pk).exists() and SavedQuery.objects.filter(pk=saved.pk).exists()


@pytest.mark.django_db
def test_bad_cursor_is_a_400(api):
    response = api.get("/api/v1/tasks/", {"cursor": "not-a-cursor"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "cursor"


@pytest.mark.django_db
def test_keyset_pages_walk_every_row_once(api, org_a):
    from testkit.factories import TaskFactory

    job = JobFactory(org=org_a)
    created = {str(TaskFactory(job=job).pk) for _ in range(7)}
    seen, url, params = [], "/api/v1/tasks/", {"page_size": 3}
    while url:
        body = api.get(url, params).json()
        seen += [row["id"] for row in body["results"]]
        url, params = body["next"], None
    assert len(seen) == 7 and set(seen) == created


@pytest.mark.django_db
def test_requests_past_the_user_rate_are_throttled(api, monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/min", "anon": "3/min"})
    statuses = [api.get("/api/v1/jobs/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert api.get("/api/v1/jobs/").json()["errors"][0]["code"] == "throttled"
