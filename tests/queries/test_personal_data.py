"""Query results and exports mask registered personal columns unless the caller asks to unmask and
holds the right; an unmasked run writes one access-log row per personal column read."""

import pyarrow as pa
import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from pii.models import PiiAccessLog
from queries.models import QueryResult
from testkit.factories import UserFactory

from .conftest import publish

EXECUTE = "/api/v1/query-results/execute/"


@pytest.fixture
def people(settings, org_a):
    settings.PII_DATASET_COLUMNS = {"acme.people": {"email": "partial", "name": "redact"}}
    publish(
        "acme.people",
        "all",
        pa.table({"id": [1, 2], "email": ["jane@example.com", "joe@example.org"], "name": ["Jane", "Joe"]}),
    )
    return "acme.people"


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def unmasker(org):
    user = UserFactory(org=org, role="member")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="pii", codename="unmask_personal_data")
    )
    return user


def rows_of(response) -> list[dict]:
    names = [column["name"] for column in response.data["columns"]]
    return [dict(zip(names, row, strict=True)) for row in response.data["rows"]]


def test_results_are_masked_by_default_even_under_another_name(people, analyst):
    response = client_for(analyst).post(
        EXECUTE,
        {"sql": "SELECT id, email, name AS who, upper(email) AS shout FROM acme.people ORDER BY id"},
        format="json",
    )
    assert response.status_code == 201, response.data
    rows = rows_of(response)
    assert [row["id"] for row in rows] == [1, 2]
    assert "jane@example.com" not in str(rows) and "JANE@EXAMPLE.COM" not in str(rows)
    assert "Jane" not in str(rows)
    assert rows[0]["email"].endswith("@example.com") and rows[0]["email"] != "jane@example.com"
    assert not PiiAccessLog.objects.exists()


def test_unmask_without_the_right_is_refused_and_runs_nothing(people, analyst):
    response = client_for(analyst).post(
        EXECUTE, {"sql": "SELECT email FROM acme.people", "unmask": True}, format="json"
    )
    assert response.status_code == 403
    assert not QueryResult.objects.exists()
    assert not PiiAccessLog.objects.exists()


def test_unmask_with_the_right_shows_the_data_and_logs_each_column_once(people, org_a):
    user = unmasker(org_a)
    response = client_for(user).post(
        EXECUTE, {"sql": "SELECT id, email, name FROM acme.people ORDER BY id", "unmask": True}, format="json"
    )
    assert response.status_code == 201, response.data
    assert [row["email"] for row in rows_of(response)] == ["jane@example.com", "joe@example.org"]
    logged = sorted(
        (dataset, column, str(record_id), action)
        for dataset, column, record_id, action in PiiAccessLog.objects.values_list(
            "dataset", "column_name", "record_id", "action"
        )
    )
    result_id = response.data["id"]
    assert logged == [
        ("acme.people", "email", str(result_id), "query"),
        ("acme.people", "name", str(result_id), "query"),
    ]


def test_a_masked_cached_result_never_serves_an_unmasked_request_or_the_reverse(people, org_a, analyst):
    sql = {"sql": "SELECT email FROM acme.people ORDER BY id"}
    masked = client_for(analyst).post(EXECUTE, sql, format="json")
    user = unmasker(org_a)
    unmasked = client_for(user).post(EXECUTE, {**sql, "unmask": True}, format="json")
    again = client_for(analyst).post(EXECUTE, sql, format="json")
    assert rows_of(unmasked)[0]["email"] == "jane@example.com"
    assert rows_of(masked)[0]["email"] != "jane@example.com"
    assert rows_of(again)[0]["email"] != "jane@example.com"
    assert QueryResult.objects.get(pk=unmasked.data["id"]).sql_hash != masked.data["sql_hash"]
