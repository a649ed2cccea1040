"""The admin's words and sections as people read them: the framework's own apps under one System
section for superusers, list titles and footers in plain words, the login box named for what people
type, acronyms in capitals, tables on change pages without "None" or microseconds, and /api/docs."""

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from platform_site.admin_base import html_table
from platform_site.admin_navigation import sidebar_navigation
from testkit.factories import JobFactory, QueryResultFactory, UserFactory


def _sections(client, url="/admin/"):
    response = client.get(url)
    assert response.status_code == 200
    return {
        group["title"]: [item["title"] for item in group["items"]]
        for group in response.context["sidebar_navigation"]
    }


@pytest.fixture
def superuser_client(org_a):
    client = Client()
    client.force_login(UserFactory(org=org_a, role="owner", is_staff=True, is_superuser=True))
    return client


def test_framework_apps_sit_in_one_system_section_for_superusers_only(superuser_client, staff_client):
    sections = _sections(superuser_client)
    assert list(sections)[-1] == "System"
    for framework in ("Axes", "Authentication and Authorization", "Background work", "Django Q"):
        assert framework not in sections
    assert "Groups" in sections["System"]
    assert "System" not in _sections(staff_client)


def test_the_sql_console_is_in_the_sidebar_and_lit_alone_on_its_page(staff_client):
    sections = _sections(staff_client, reverse("admin:queries_console"))
    assert sections["Queries"][:2] == ["SQL console", "Datasets"]
    response = staff_client.get(reverse("admin:queries_console"))
    active = [
        item["title"]
        for group in response.context["sidebar_navigation"]
        for item in group["items"]
        if item.get("active")
    ]
    assert active == ["SQL console"]
    html = response.content.decode()
    assert "Saved queries" not in html.split('id="header-inner"')[1].split("</h1>")[0]


def test_console_links_need_a_user_who_may_run_queries(rf, db):
    request = rf.get("/admin/")
    request.user = UserFactory(is_staff=True, is_superuser=True, is_active=False)
    titles = [item["title"] for group in sidebar_navigation(request) for item in group["items"]]
    assert "SQL console" not in titles


def test_lists_are_titled_by_their_name_and_count_in_plain_words(superuser_client):
    response = superuser_client.get(reverse("admin:pii_piiaccesslog_changelist"))
    html = response.content.decode()
    assert response.context["title"] == "PII access log"
    assert "to view" not in html and "to change" not in html
    assert "0 entries" in " ".join(html.split()) and "0 PII access log" not in " ".join(html.split())
    assert "yielded" not in html and "There are no entries yet." in " ".join(html.split())


def test_the_login_box_asks_for_the_login(client, db):
    html = client.get(reverse("admin:login")).content.decode()
    assert "External id" not in html and ">Login" in html.replace("\n", "").replace(" ", "")


def test_acronyms_are_capitals_in_list_headers_and_the_sidebar(superuser_client, org_a):
    JobFactory(org=org_a)
    html = superuser_client.get(reverse("admin:orchestration_job_changelist")).content.decode()
    assert "DAG name" in html and "Dag name" not in html
    assert "API tokens" in _sections(superuser_client)["Access"]


def test_change_page_tables_show_missing_values_and_times_plainly(settings):
    settings.TIME_ZONE = "UTC"
    at = dt.datetime(2026, 12, 5, 9, 44, 17, 123456, tzinfo=dt.UTC)
    with timezone.override("UTC"):
        html = html_table(["Next attempt", "Delivered"], [(None, at)])
    assert "None" not in html and "—" in html
    shown = re.sub(r"<[^>]*>", " ", html)  # the text people read (the exact value is on hover)
    assert "2026-12-05 09:44:17" in shown and "123456" not in shown
    assert 'class="' in html.split("<td")[1]  # the theme's cell, with its padding


def test_api_docs_lead_to_the_swagger_ui(client, db):
    for path in ("/api/docs", "/api/docs/"):
        response = client.get(path)
        assert response.status_code == 302 and response.url == reverse("swagger-ui")


def test_acronyms_are_capitals_on_read_only_change_pages(superuser_client, org_a):
    result = QueryResultFactory(org=org_a)
    html = superuser_client.get(
        reverse("admin:queries_queryresult_change", args=[result.pk])
    ).content.decode()
    assert "SQL hash" in html and "Sql hash" not in html


def test_an_unfiltered_uncounted_list_does_not_offer_to_show_all(superuser_client):
    html = superuser_client.get(reverse("admin:pii_piiaccesslog_changelist")).content.decode()
    assert "Show all" not in html and "Reset filters" not in html
    filtered = superuser_client.get(reverse("admin:pii_piiaccesslog_changelist") + "?action__exact=api_view")
    assert "Show all" in filtered.content.decode()


def test_choices_named_after_an_enum_member_are_spelled_as_people_do(superuser_client, org_a):
    job = JobFactory(org=org_a)
    html = superuser_client.get(reverse("admin:orchestration_job_change", args=[job.pk])).content.decode()
    assert ">SQL</option>" in html.replace("\n", "").replace(" ", "") and ">Sql</option>" not in html
    listing = superuser_client.get(reverse("admin:orchestration_job_changelist")).content.decode()
    assert "Sql" not in listing


def test_breadcrumbs_spell_an_object_as_it_is_named(staff_client, org_a):
    """App and model names read as titles; a job's ``org/name`` keeps its lower case."""
    job = JobFactory(org=org_a, name="daily_stats")
    for url in (
        reverse("admin:orchestration_job_change", args=[job.pk]),
        reverse("admin:orchestration_job_backfill", args=[job.pk]),
    ):
        header = staff_client.get(url).content.decode()
        assert "alpha/daily_stats" in header and "Alpha/daily_stats" not in header, url
        assert re.search(r">\s*Orchestration\s*<", header), url
