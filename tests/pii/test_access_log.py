"""The access log is append-only on every layer, and auditors filter and export it."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from pii.models import AppendOnlyError, PiiAccessLog
from testkit.factories import PiiAccessLogFactory, UserFactory

from .conftest import grant

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(org_a):
    return PiiAccessLogFactory(user__org=org_a, column_name="email")


def _unchanged(entry):
    row = PiiAccessLog.objects.get(pk=entry.pk)
    assert (row.column_name, row.action, row.user_id) == ("email", entry.action, entry.user_id)


def test_the_orm_refuses_every_change_and_deletion(entry):
    entry.column_name = "phone"
    attempts = [
        entry.save,
        lambda: entry.save(update_fields=["column_name"]),
        entry.delete,
        lambda: PiiAccessLog.objects.filter(pk=entry.pk).update(column_name="phone"),
        lambda: PiiAccessLog.objects.all().delete(),
        lambda: PiiAccessLog.objects.bulk_update([entry], ["column_name"]),
        lambda: PiiAccessLog.objects.update_or_create(pk=entry.pk, defaults={"column_name": "phone"}),
    ]
    for attempt in attempts:
        with pytest.raises(AppendOnlyError), transaction.atomic():
            attempt()
    # A hand-made instance carrying an existing id is an INSERT (refused as a duplicate), never an UPDATE.
    forged = PiiAccessLog(id=entry.pk, user=entry.user, dataset="x", column_name="phone", action="query")
    with pytest.raises(DatabaseError), transaction.atomic():
        forged.save()
    _unchanged(entry)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE pii_access_log SET column_name = 'phone'",
        "DELETE FROM pii_access_log",
        "TRUNCATE pii_access_log",
        "TRUNCATE pii_access_log CASCADE",
    ],
)
def test_raw_sql_cannot_change_or_delete_rows(entry, statement):
    with connection.cursor() as cursor:
        # The test's own transaction holds the row's deferred foreign-key check; run it now, or
        # PostgreSQL refuses the TRUNCATE for that reason before the log's trigger is asked.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with (
        # The trigger, or before it the sealed log's missing UPDATE/DELETE privilege.
        pytest.raises(DatabaseError, match=r"append-only|permission denied"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    _unchanged(entry)


def test_the_admin_is_read_only(client, reader, entry):
    client.force_login(reader)
    opts = "admin:pii_piiaccesslog"
    assert client.get(reverse(f"{opts}_changelist")).status_code == 200
    assert client.get(reverse(f"{opts}_add")).status_code == 403
    change = reverse(f"{opts}_change", args=[entry.pk])
    page = client.get(change)
    assert page.status_code == 200 and b'name="column_name"' not in page.content  # shown, not editable
    assert client.post(change, {"column_name": "phone", "dataset": "x", "action": "query"}).status_code == 403
    assert client.post(reverse(f"{opts}_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    bulk = client.post(
        reverse(f"{opts}_changelist"), {"action": "delete_selected", "_selected_action": [entry.pk]}
    )
    assert bulk.status_code in (200, 302)
    _unchanged(entry)


def test_the_api_is_read_only(reader, entry):
    api = APIClient()
    api.force_authenticate(reader)
    detail = reverse("pii-access-log-detail", args=[entry.pk])
    assert api.get(detail).status_code == 200
    assert api.patch(detail, {"column_name": "phone"}, format="json").status_code == 405
    assert api.put(detail, {"column_name": "phone"}, format="json").status_code == 405
    assert api.delete(detail).status_code == 405
    assert api.post(reverse("pii-access-log-list"), {"column_name": "x"}, format="json").status_code == 405
    _unchanged(entry)


def _csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_auditors_filter_and_export_their_orgs_log_as_csv(org_a, org_b):
    auditor = grant(UserFactory(org=org_a, role="viewer", is_staff=True), "audit_personal_data")
    plain_member = UserFactory(org=org_a, role="member")
    mine = [
        PiiAccessLogFactory(user__org=org_a, action="api_view", dataset="users"),
        PiiAccessLogFactory(user__org=org_a, action="query", dataset="alpha.customers"),
    ]
    theirs = PiiAccessLogFactory(user__org=org_b, action="query", dataset="bravo.customers")
    api = APIClient()
    api.force_authenticate(auditor)

    listed = api.get(reverse("pii-access-log-list")).json()["results"]
    assert {row["id"] for row in listed} == {str(e.pk) for e in mine}
    filtered = api.get(reverse("pii-access-log-list"), {"action": "query"}).json()["results"]
    assert [row["dataset"] for row in filtered] == ["alpha.customers"]
    assert api.get(reverse("pii-access-log-list"), {"action": "peek"}).status_code == 400

    export = api.get(reverse("pii-access-log-export"), {"action": "query"}, HTTP_ACCEPT="text/csv")
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    rows = _csv(export)
    assert [(r["dataset"], r["action"], r["user"]) for r in rows] == [
        ("alpha.customers", "query", mine[1].user.external_id)
    ]
    assert str(theirs.pk) not in str(rows)

    # Without the right (and not an org admin): nothing to read, nothing to export.
    api.force_authenticate(plain_member)
    assert api.get(reverse("pii-access-log-list")).json()["results"] == []
    assert _csv(api.get(reverse("pii-access-log-export"))) == []


def test_auditors_filter_and_export_in_the_admin(client, org_a, org_b):
    auditor = grant(UserFactory(org=org_a, role="viewer", is_staff=True), "audit_personal_data")
    PiiAccessLogFactory(user__org=org_a, action="api_view", dataset="users")
    PiiAccessLogFactory(user__org=org_a, action="export", dataset="alpha.customers")
    PiiAccessLogFactory(user__org=org_b, action="export", dataset="bravo.customers")
    client.force_login(auditor)
    page = client.get(reverse("admin:pii_piiaccesslog_changelist"), {"action__exact": "export"})
    assert page.status_code == 200
    assert b"alpha.customers" in page.content and b"bravo.customers" not in page.content
    assert b"Export CSV" in page.content
    export = client.get(reverse("admin:pii_piiaccesslog_export"), {"action__exact": "export"})
    assert [r["dataset"] for r in _csv(export)] == ["alpha.customers"]
    # Staff without the audit right are refused the export.
    client.force_login(UserFactory(org=org_a, role="member", is_staff=True))
    assert client.get(reverse("admin:pii_piiaccesslog_export")).status_code == 403


def test_a_bad_filter_on_the_admin_export_is_a_400(client, reader, entry):
    client.force_login(reader)
    url = reverse("admin:pii_piiaccesslog_export")
    assert client.get(url, {"accessed_at__gte": "yesterday"}).status_code == 400
    assert client.get(url, {"nonsense": "1"}).status_code == 400
    assert client.get(url, {"action__exact": "query"}).status_code == 200
