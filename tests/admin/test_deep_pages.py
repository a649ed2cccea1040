"""Deep changelist pages found by keyset show exactly the rows plain offset paging would."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from orchestration.models import Task
from platform_site.admin_base import KeysetAssistedPaginator
from testkit.factories import JobFactory, TaskFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tasks(org_a, org_b):
    moment = timezone.now()
    mine, theirs = JobFactory(org=org_a), JobFactory(org=org_b)
    for i in range(40):
        # Pairs of tasks share a creation time: the id has to break the ties.
        TaskFactory(job=mine if i % 4 else theirs, created_at=moment - dt.timedelta(seconds=i // 2))
    return mine


@pytest.mark.parametrize("ordering", [("-created_at", "-id"), ("created_at", "id"), ("-status", "-pk")])
def test_every_page_matches_offset_paging(tasks, monkeypatch, ordering):
    monkeypatch.setattr(KeysetAssistedPaginator, "KEYSET_FROM", 1)
    queryset = Task.objects.filter(job__org=tasks.org).select_related("job").order_by(*ordering)
    expected = list(queryset.values_list("pk", flat=True))
    paginator = KeysetAssistedPaginator(queryset, 4)

    pages = [list(paginator.page(n).object_list) for n in paginator.page_range]

    assert [task.pk for page in pages for task in page] == expected
    assert len(pages) == 8


def test_an_ordering_that_is_not_a_total_order_pages_by_offset(tasks, monkeypatch):
    monkeypatch.setattr(KeysetAssistedPaginator, "KEYSET_FROM", 1)
    queryset = Task.objects.order_by("-created_at", "status")
    paginator = KeysetAssistedPaginator(queryset, 4)

    assert paginator._keyset_rows(8) is None
    assert list(paginator.page(3).object_list) == list(queryset[8:12])


def test_the_row_a_deep_page_starts_at_is_found_once_per_while(tasks, monkeypatch):
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cache.clear()
    monkeypatch.setattr(KeysetAssistedPaginator, "KEYSET_FROM", 1)
    queryset = Task.objects.filter(job__org=tasks.org).order_by("-created_at", "-id")
    with CaptureQueriesContext(connection) as cold:
        first = list(KeysetAssistedPaginator(queryset, 4).page(5).object_list)
    with CaptureQueriesContext(connection) as warm:
        again = list(KeysetAssistedPaginator(queryset, 4).page(5).object_list)

    assert first == again == list(queryset[16:20])
    assert len(warm) == len(cold) - 1
    assert "OFFSET 16" in cold[-2]["sql"] and all("OFFSET" not in q["sql"] for q in warm)
