"""A scheduled query writes an org dataset every member reads: it may read only what every member
may read, checked on save of the job and of its saved query, and again on every run; personal
columns arrive in its output masked."""

import pyarrow as pa
import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from orchestration.models import Task
from orchestration.services import job_create, job_plan
from queries.models import SavedQuery
from testkit.factories import SavedQueryFactory
from versioning.models import PartitionVersion
from versioning.storage import lake

from .conftest import publish

pytestmark = pytest.mark.django_db


def scheduled_job(saved, *, inputs, name="out"):
    return job_create(
        org=saved.org,
        name=name,
        runtime="sql",
        operator="saved_query",
        source={"saved_query": str(saved.pk)},
        input_datasets=inputs,
        output_datasets=[f"{saved.org.slug}.{name}"],
        execution_strategy="full",
    )


@pytest.mark.parametrize(
    ("sql", "inputs", "reason"),
    [
        ("SELECT address, label FROM address_labels", [], "address_labels"),
        ("SELECT * FROM beta.secrets", ["beta.secrets"], "beta.secrets"),
    ],
)
def test_a_scheduled_query_may_not_read_what_not_every_member_reads(analyst, org_b, sql, inputs, reason):
    publish("beta.secrets", "all", pa.table({"x": [1]}))
    saved = SavedQueryFactory(org=analyst.org, user=analyst, query=sql, visibility="private")
    with pytest.raises(ValidationError) as refused:
        scheduled_job(saved, inputs=inputs)
    assert reason in str(refused.value.message_dict)


def test_editing_a_scheduled_query_into_a_forbidden_shape_is_refused(analyst, evm_blocks):
    saved = SavedQueryFactory(org=analyst.org, user=analyst, query="SELECT count(*) AS n FROM evm.blocks")
    scheduled_job(saved, inputs=["evm.blocks"])
    client = APIClient()
    client.force_authenticate(analyst)
    response = client.patch(
        f"/api/v1/saved-queries/{saved.pk}/",
        {"query": "SELECT count(*) AS n FROM evm.blocks, address_labels"},
        format="json",
    )
    assert response.status_code == 400
    assert "address_labels" in str(response.json())
    saved.refresh_from_db()
    assert "address_labels" not in saved.query


def test_a_run_rechecks_a_query_edited_behind_the_services(analyst, evm_blocks, run_tasks):
    saved = SavedQueryFactory(org=analyst.org, user=analyst, query="SELECT count(*) AS n FROM evm.blocks")
    job = scheduled_job(saved, inputs=["evm.blocks"])
    SavedQuery.objects.filter(pk=saved.pk).update(query="SELECT address FROM address_labels")
    job_plan(job=job, force=True)
    run_tasks()
    task = Task.objects.get(job=job)
    assert task.status == "failed" and "address_labels" in task.error_message
    assert not PartitionVersion.objects.filter(dataset="acme.out").exists()


def test_personal_columns_reach_a_scheduled_output_masked(analyst, settings, run_tasks):
    settings.PII_DATASET_COLUMNS = {"acme.people": {"email": "redact"}}
    publish("acme.people", "all", pa.table({"id": [1], "email": ["jane@example.com"]}))
    saved = SavedQueryFactory(org=analyst.org, user=analyst, query="SELECT * FROM acme.people")
    job = scheduled_job(saved, inputs=["acme.people"], name="copy")
    job_plan(job=job, force=True)
    run_tasks()
    version = PartitionVersion.objects.get(dataset="acme.copy")
    assert lake().read_table(version.location)["email"].to_pylist() == ["[redacted]"]
