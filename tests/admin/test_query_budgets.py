"""Every changelist and record table costs the same number of SQL queries for 2 rows as for 8."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from access.services import api_token_create
from tests.admin.test_isolation_matrix import RECORD_TABLES, SCOPED
from tests.tenancy_objects import build

BUDGET = 20  # session, user, org, permission checks, the page, filter choices


def add_rows(model, org, owner, count):
    for _ in range(count):
        if model._meta.label_lower == "access.apitoken":
            api_token_create(user=owner)
        elif model._meta.label_lower != "orgs.org":
            build(model, org)


def measure(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.mark.django_db
@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m._meta.label)
def test_changelist_query_count_does_not_grow_with_rows(model, staff_client, org_a, staff_owner_a):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    add_rows(model, org_a, staff_owner_a, 2)
    few = measure(staff_client, url)
    add_rows(model, org_a, staff_owner_a, 6)
    many = measure(staff_client, url)
    assert few == many and many <= BUDGET, (few, many)


@pytest.mark.django_db
@pytest.mark.parametrize("table", RECORD_TABLES, ids=lambda t: t.url_name)
def test_record_table_query_count_does_not_grow_with_rows(table, staff_client, org_a, staff_owner_a):
    url = reverse(f"admin:{table.url_name}")
    add_rows(table.model, org_a, staff_owner_a, 2)
    few = measure(staff_client, url)
    add_rows(table.model, org_a, staff_owner_a, 6)
    many = measure(staff_client, url)
    assert few == many and many <= BUDGET, (few, many)
