"""Every list endpoint costs the same number of SQL queries for 2 rows as for 8: no N+1."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from access.services import api_token_create
from tests.api.test_isolation_matrix import OPERATIONS, PARAM, model_of
from tests.tenancy_objects import build

LISTS = [path for path, method in OPERATIONS if method == "get" and not PARAM.search(path)]
BUDGET = 8  # session/user, org, filters, page (+ count on numbered pages), guardian subqueries inline


def add_rows(model, org, owner, count):
    for _ in range(count):
        if model._meta.label_lower == "access.apitoken":
            api_token_create(user=owner)
        elif model._meta.label_lower == "orgs.org":
            return
        else:
            build(model, org)


@pytest.mark.django_db
@pytest.mark.parametrize("path", LISTS)
def test_list_query_count_does_not_grow_with_rows(path, api, org_a, owner_a):
    model = model_of(path)
    counts = []
    for rows in (2, 6):
        add_rows(model, org_a, owner_a, rows)
        with CaptureQueriesContext(connection) as captured:
            response = api.get(path, {"page_size": 100})
        assert response.status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1], f"{path}: {counts[0]} queries for fewer rows, {counts[1]} for more"
    assert counts[1] <= BUDGET, [q["sql"] for q in captured.captured_queries]
