"""Personal-data registration follows the data: column lineage carries it from a registered column to
every column written from it, down the DAG, whether the producing jobs run or are paused."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orchestration.services import job_create, job_set_active, job_update
from pii.registry import Strategy, dataset_columns

pytestmark = pytest.mark.django_db


def _sql_job(org, name, sql, inputs, **config):
    return job_create(
        org=org,
        name=name,
        runtime="sql",
        operator="duckdb_sql",
        source={"sql": sql},
        input_datasets=inputs,
        output_datasets=[f"{org.slug}.{name}"],
        config=config,
    )


@pytest.fixture
def people(org_a):
    """``alpha.people``: e-mails hashed, phones partially shown, names redacted."""
    return _sql_job(
        org_a,
        "people",
        "SELECT 'jane@example.com' AS email, '+4912345' AS phone, 'Jane' AS name, 1 AS id",
        [],
        pii_columns={"email": "hash", "phone": "partial", "name": "redact"},
    )


def test_a_star_copy_registers_every_personal_column_of_its_input(org_a, people):
    _sql_job(org_a, "people_copy", "SELECT * FROM alpha.people", ["alpha.people"])
    registered = dataset_columns()
    for column, strategy in (("email", "hash"), ("phone", "partial"), ("name", "redact")):
        entry = registered["alpha.people_copy", column]
        assert entry.strategy == strategy
        assert entry.declared_by == f"lineage from alpha.people.{column}"
    assert ("alpha.people_copy", "id") not in registered


def test_a_qualified_star_next_to_other_columns_counts_too(org_a, people):
    _sql_job(org_a, "tagged", "SELECT p.*, 1 AS tag FROM alpha.people p", ["alpha.people"])
    assert dataset_columns()["alpha.tagged", "email"].strategy == Strategy.HASH


def test_an_expression_over_a_personal_column_is_personal(org_a, people):
    _sql_job(org_a, "shouting", "SELECT upper(email) AS e, id FROM alpha.people", ["alpha.people"])
    registered = dataset_columns()
    assert registered["alpha.shouting", "e"].strategy == Strategy.HASH
    assert registered["alpha.shouting", "e"].declared_by == "lineage from alpha.people.email"
    assert ("alpha.shouting", "id") not in registered


def test_a_column_from_several_personal_columns_takes_the_strictest_strategy(org_a, people):
    _sql_job(org_a, "contact", "SELECT phone || ' ' || name AS line FROM alpha.people", ["alpha.people"])
    entry = dataset_columns()["alpha.contact", "line"]
    assert entry.strategy == Strategy.REDACT and entry.declared_by == "lineage from alpha.people.name"


def test_registration_follows_the_dag_transitively(org_a, people):
    _sql_job(org_a, "people_copy", "SELECT * FROM alpha.people", ["alpha.people"])
    _sql_job(org_a, "mail", "SELECT lower(email) AS address FROM alpha.people_copy", ["alpha.people_copy"])
    _sql_job(org_a, "mail_again", "SELECT * FROM alpha.mail", ["alpha.mail"])
    registered = dataset_columns()
    assert registered["alpha.mail", "address"].declared_by == "lineage from alpha.people_copy.email"
    assert registered["alpha.mail_again", "address"].strategy == Strategy.HASH


def test_a_python_job_s_declared_lineage_carries_registration(org_a, people):
    job_create(
        org=org_a,
        name="enriched",
        runtime="python",
        operator="python",
        source={"callable": "chains.demo:transfers_from_logs"},
        input_datasets=["alpha.people"],
        output_datasets=["alpha.enriched"],
        config={
            "column_lineage": [
                {"output_column": "who", "input_dataset": "alpha.people", "input_column": "phone"}
            ]
        },
    )
    assert dataset_columns()["alpha.enriched", "who"].strategy == Strategy.PARTIAL


def test_pausing_the_producers_keeps_every_registration(org_a, people):
    copy = _sql_job(org_a, "people_copy", "SELECT * FROM alpha.people", ["alpha.people"])
    job_set_active(job=people, active=False)
    job_set_active(job=copy, active=False)
    registered = dataset_columns()
    assert registered["alpha.people", "email"].strategy == Strategy.HASH
    assert registered["alpha.people_copy", "email"].strategy == Strategy.HASH


def test_a_registration_declared_in_settings_follows_lineage(org_a, settings):
    settings.PII_DATASET_COLUMNS = {"alpha.kyc": {"passport": "redact"}}
    _sql_job(org_a, "kyc_copy", "SELECT passport AS p FROM alpha.kyc", ["alpha.kyc"])
    assert dataset_columns()["alpha.kyc_copy", "p"].declared_by == "lineage from alpha.kyc.passport"


def test_a_job_that_stops_reading_the_column_stops_carrying_it(org_a, people):
    job = _sql_job(org_a, "shouting", "SELECT upper(email) AS e FROM alpha.people", ["alpha.people"])
    assert ("alpha.shouting", "e") in dataset_columns()
    job_update(job=job, source={"sql": "SELECT 'x' AS e FROM alpha.people"})
    assert ("alpha.shouting", "e") not in dataset_columns()


def test_the_registry_costs_one_query_while_no_job_changed(org_a, people):
    _sql_job(org_a, "people_copy", "SELECT * FROM alpha.people", ["alpha.people"])
    first = dataset_columns()
    with CaptureQueriesContext(connection) as queries:
        again = dataset_columns()
    assert again == first and len(queries.captured_queries) == 1
