"""Database-level guarantees of the data model: vocabularies, append-only log, ids, users."""

import pytest
from django.db import IntegrityError, connection, transaction

from orgs.models import Org, User, platform_org
from pii.models import PiiAccessLog
from platform_site.db import uuid7
from testkit import factories

# (table, column, a value outside the vocabulary) for every CHECK-constrained vocabulary.
VOCABULARIES = [
    ("users", "role", "emperor"),
    ("jobs", "activation", "sometimes"),
    ("jobs", "runtime", "cobol"),
    ("jobs", "execution_strategy", "eventually"),
    ("jobs", "update_strategy", "merge"),
    ("tasks", "status", "sleeping"),
    ("address_labels", "visibility", "secret"),
    ("saved_queries", "visibility", "secret"),
    ("query_results", "mode", "batch"),
    ("query_results", "status", "lost"),
    ("query_results", "output_format", "xlsx"),
    ("query_results", "error_code", "oops"),
    ("alert_definitions", "visibility", "secret"),
    ("alert_events", "severity", "apocalyptic"),
    ("alert_deliveries", "channel", "pigeon"),
    ("alert_deliveries", "status", "lost"),
    ("data_invalidations", "scope", "galaxy"),
    ("pii_access_log", "action", "peek"),
]

ROW_FACTORIES = {
    "users": factories.UserFactory,
    "jobs": factories.JobFactory,
    "tasks": factories.TaskFactory,
    "address_labels": factories.AddressLabelFactory,
    "saved_queries": factories.SavedQueryFactory,
    "query_results": factories.QueryResultFactory,
    "alert_definitions": factories.AlertDefinitionFactory,
    "alert_events": factories.AlertEventFactory,
    "alert_deliveries": factories.AlertDeliveryFactory,
    "data_invalidations": factories.DataInvalidationFactory,
    "pii_access_log": factories.PiiAccessLogFactory,
}


@pytest.mark.django_db
@pytest.mark.parametrize(("table", "column", "bad_value"), VOCABULARIES)
def test_database_rejects_values_outside_the_vocabulary(table, column, bad_value):
    row = ROW_FACTORIES[table]()
    with pytest.raises(IntegrityError, match="_valid"), transaction.atomic(), connection.cursor() as cursor:
        if table == "pii_access_log":  # append-only: a trigger refuses every UPDATE, so try an INSERT
            cursor.execute(
                "INSERT INTO pii_access_log (id, user_id, dataset, column_name, action) "
                "VALUES (%s, %s, 'd', 'c', %s)",
                [uuid7(), row.user_id, bad_value],
            )
        else:
            cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [bad_value, row.pk])


@pytest.mark.django_db
def test_invalidation_scopes_need_their_key():
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.DataInvalidationFactory(scope="partition", partition_key=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.DataInvalidationFactory(scope="rows", partition_key=None, row_filter=None)
    rows = factories.DataInvalidationFactory(
        scope="rows", partition_key=None, row_filter={"block_number": {"gte": 18_000_000}}
    )
    assert rows.row_filter == {"block_number": {"gte": 18_000_000}}


@pytest.mark.django_db
def test_alert_event_dedupe_key_is_unique_per_org():
    event = factories.AlertEventFactory(dedupe_key="same")
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.AlertEventFactory(dedupe_key="same", alert_definition=event.alert_definition, org=event.org)
    other_org_event = factories.AlertEventFactory(dedupe_key="same")
    assert other_org_event.org_id != event.org_id


@pytest.mark.django_db
def test_pii_access_log_is_append_only():
    entry = factories.PiiAccessLogFactory()
    entry.column_name = "phone"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        PiiAccessLog.objects.filter(pk=entry.pk).update(column_name="phone")
    with pytest.raises(PermissionError):
        PiiAccessLog.objects.all().delete()
    assert PiiAccessLog.objects.get(pk=entry.pk).column_name == "email"


def test_uuid7_ids_are_time_ordered():
    ids = [uuid7() for _ in range(1000)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids, key=lambda u: u.bytes[:6])  # the 48-bit millisecond prefix never decreases


@pytest.mark.django_db
def test_high_volume_tables_get_uuid7_keys():
    assert factories.TaskFactory().id.version == 7
    assert factories.AlertDeliveryFactory().id.version == 7
    assert factories.AlertDeliveryFactory().alert_event.id.version == 7
    assert factories.QueryResultFactory().id.version == 7
    assert factories.PiiAccessLogFactory().id.version == 7


@pytest.mark.django_db
def test_superuser_lands_in_the_platform_org_and_users_need_an_org():
    admin = User.objects.create_superuser("root@sso", "pw")
    assert admin.org == platform_org() and admin.is_staff and admin.role == "owner"
    with pytest.raises(ValueError, match="org"):
        User.objects.create_user("nobody@sso", "pw")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("root@sso", "pw", org=Org.objects.get(slug="platform"))
