"""Every admin page renders for staff, and changelists cost the same number of queries at any size."""

import contextlib

import psycopg
import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from orchestration.models import Task
from platform_site.admin_site import ENGINE_OWNED_MODELS
from testkit import factories

OUR_APPS = {"orgs", "orchestration", "versioning", "labels", "queries", "alerting", "pii"}

# One factory per registered model: the admin must render every one of them.
FACTORIES = {
    "orgs.org": factories.OrgFactory,
    "orgs.user": factories.UserFactory,
    "orgs.orgrole": factories.OrgRoleFactory,
    "orchestration.job": factories.JobFactory,
    "orchestration.task": factories.TaskFactory,
    "labels.addresslabel": factories.AddressLabelFactory,
    "versioning.datainvalidation": factories.DataInvalidationFactory,
    "queries.savedquery": factories.SavedQueryFactory,
    "queries.queryresult": factories.QueryResultFactory,
    "alerting.alertdefinition": factories.AlertDefinitionFactory,
    "alerting.alertevent": factories.AlertEventFactory,
    "alerting.alertdelivery": factories.AlertDeliveryFactory,
    "pii.piiaccesslog": factories.PiiAccessLogFactory,
}
RECORD_FACTORIES = {
    "orgs.orgrolemembership": factories.OrgRoleMembershipFactory,
    "orchestration.taskinput": factories.TaskInputFactory,
    "orchestration.columnlineage": factories.ColumnLineageFactory,
    "versioning.partitionversion": factories.PartitionVersionFactory,
    "versioning.datasetcursor": factories.DatasetCursorFactory,
}


def label(model) -> str:
    return model._meta.label_lower


def test_every_model_has_an_admin_page():
    registered = {label(model) for model in admin.site._registry if model._meta.app_label != "auth"}
    registered = {name for name in registered if name.split(".")[0] in OUR_APPS}
    records = {label(table.model) for table in admin.site.record_tables}
    assert registered == set(FACTORIES)
    assert records == set(RECORD_FACTORIES)
    assert len(registered | records) == 18


@pytest.mark.django_db
@pytest.mark.parametrize("model_label", sorted(FACTORIES))
def test_changelist_change_and_add_pages_render(admin_client, model_label):
    obj = FACTORIES[model_label]()
    app_label, model_name = model_label.split(".")
    changelist = admin_client.get(reverse(f"admin:{app_label}_{model_name}_changelist"))
    assert changelist.status_code == 200
    assert str(obj.pk) in changelist.content.decode() or str(obj) in changelist.content.decode()
    change = admin_client.get(reverse(f"admin:{app_label}_{model_name}_change", args=[obj.pk]))
    assert change.status_code == 200
    add = admin_client.get(reverse(f"admin:{app_label}_{model_name}_add"))
    # The access log and the records the engine writes have no add form.
    no_add = {"pii.piiaccesslog", *ENGINE_OWNED_MODELS}
    assert add.status_code == (403 if model_label in no_add else 200)


@pytest.mark.django_db
@pytest.mark.parametrize("model_label", sorted(FACTORIES))
def test_changelist_queries_do_not_grow_with_rows(admin_client, model_label):
    app_label, model_name = model_label.split(".")
    url = reverse(f"admin:{app_label}_{model_name}_changelist")
    FACTORIES[model_label].create_batch(2)
    admin_client.get(url)  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    FACTORIES[model_label].create_batch(15)
    with CaptureQueriesContext(connection) as many:
        admin_client.get(url)
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


@pytest.mark.django_db
@pytest.mark.parametrize("model_label", sorted(RECORD_FACTORIES))
def test_record_tables_list_filter_and_page(admin_client, model_label):
    app_label, model_name = model_label.split(".")
    url = reverse(f"admin:{app_label}_{model_name}_records")
    rows = RECORD_FACTORIES[model_label].create_batch(3)
    response = admin_client.get(url)
    assert response.status_code == 200
    assert len(response.context["rows"]) == 3
    table = next(t for t in admin.site.record_tables if label(t.model) == model_label)
    first_filter = table.filters[0]
    wanted = getattr(rows[0], first_filter)
    filtered = admin_client.get(url, {first_filter: str(wanted)})
    assert filtered.status_code == 200
    expected = sum(1 for row in rows if str(getattr(row, first_filter)).startswith(str(wanted)))
    assert len(filtered.context["rows"]) == expected


@pytest.mark.django_db
def test_record_table_pages_without_counting(admin_client):
    factories.PartitionVersionFactory.create_batch(120)
    url = reverse("admin:versioning_partitionversion_records")
    with CaptureQueriesContext(connection) as queries:
        first = admin_client.get(url)
    assert len(first.context["rows"]) == 100
    assert first.context["next_query"] == "page=2"
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
    second = admin_client.get(url, {"page": "2"})
    assert len(second.context["rows"]) == 20 and second.context["next_query"] is None
    assert admin_client.get(url, {"page": "banana"}).status_code == 200


@pytest.mark.django_db
def test_index_lists_record_tables(admin_client):
    content = admin_client.get(reverse("admin:index")).content.decode()
    for table in admin.site.record_tables:
        assert reverse(f"admin:{table.url_name}") in content


@pytest.mark.django_db
def test_record_tables_are_for_staff_only(client):
    client.force_login(factories.UserFactory(is_staff=False))
    response = client.get(reverse("admin:versioning_partitionversion_records"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_task_page_shows_inputs_and_job_page_shows_lineage(admin_client):
    task_input = factories.TaskInputFactory(input_partition="blocks_00012000")
    page = admin_client.get(reverse("admin:orchestration_task_change", args=[task_input.task_id]))
    assert "blocks_00012000" in page.content.decode()
    edge = factories.ColumnLineageFactory(output_column="whale_value", input_column="value")
    page = admin_client.get(reverse("admin:orchestration_job_change", args=[edge.job_id]))
    assert "whale_value" in page.content.decode()


@pytest.mark.django_db
def test_large_changelist_uses_planner_estimate(admin_client):
    factories.TaskFactory.create_batch(3)
    url = reverse("admin:orchestration_task_changelist")
    # A list the planner thinks is small is counted exactly.
    filtered = admin_client.get(url, {"status__exact": "pending"})
    assert filtered.context["cl"].result_count == Task.objects.filter(status="pending").count() == 3
    # Pretend the planner saw a big table, as it would after ANALYZE on millions of rows. The
    # catalog is the server's: only a superuser writes it (the platform's own role is none).
    with catalog_cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'tasks'")
        before = cursor.fetchone()[0]
        cursor.execute("UPDATE pg_class SET reltuples = 2500000 WHERE relname = 'tasks'")
        try:
            response = admin_client.get(url)
        finally:
            cursor.execute("UPDATE pg_class SET reltuples = %s WHERE relname = 'tasks'", [before])
    assert response.context["cl"].result_count == 2_500_000


@contextlib.contextmanager
def catalog_cursor():
    """A cursor that may write the system catalog: the embedded server's superuser on its own
    (committing) connection, or the test connection when the platform already connects as one."""
    from platform_site.database import embedded_superuser_url

    url = embedded_superuser_url(connection.settings_dict["NAME"])
    if url is None:
        with connection.cursor() as cursor:
            yield cursor
        return
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cursor:
        yield cursor
