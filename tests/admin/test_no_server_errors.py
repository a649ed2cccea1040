"""No input gives a 500 on any admin page, generated from the admin site's own URL table.

Every URL the admin serves (changelists, record tables, add/change/history/delete pages, object
permission pages, custom views such as a job's backfill, the site's own views) is requested with a
real object's id and with junk ids; every list gets each of its filter and query parameters with junk
values (a non-uuid, a NUL byte, a number past any column, a bad date, an unknown or refused lookup);
every form gets junk posted into every field, and every action junk selections. The superuser and an
org's staff owner (and a staff viewer, for the actions) must never get a 5xx.

A new model, admin, filter, action or custom URL is covered without touching this file.
"""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.urls import URLResolver, reverse

from platform_site import tenancy
from testkit.factories import UserFactory
from tests.tenancy_objects import build

JUNK = ["not-a-uuid", "\x00", "99999999999999999999", "2026-13-45T99:99", "-1", ""]
# What each kind of filter parameter gets; NUL and non-uuid everywhere.
LOOKUP_JUNK = {
    "": JUNK[:4],
    "__gte": ["99999999999999999999", "2026-13-45"],
    "__in": ["a,\x00,99999999999999999999"],
    "__isnull": ["maybe"],
    "__year": ["99999999999"],
    "__nosuch": ["1"],
    "__regex": ["(unclosed"],
}
QUERY_JUNK = {
    "q": ["\x00", "zz", "99999999999999999999"],
    "o": ["99", "x.-1", "\x00"],
    "p": ["99999999999999999999", "x"],
    "e": ["1"],
    "_to_field": ["nosuch", "\x00"],
    "_popup": ["1"],
    "page": ["99999999999999999999", "-5", "x"],
}
# Junk for a form field: every JUNK value, plus JSON text that PostgreSQL's jsonb refuses.
FORM_JUNK = [*JUNK, '{"a": "\\u0000"}', '"\\u0000"', "[1e999999]"]

MODEL_ADMINS = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
RECORD_TABLES = sorted(admin.site.record_tables, key=lambda t: t.url_name)


def route_urls(prefix: str, patterns, values: dict[str, list[str]]) -> list[str]:
    """Concrete URLs for ``patterns`` (below ``prefix``), each path parameter filled with every
    value ``values`` offers for its name (junk for names it does not know)."""
    urls = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            continue
        route = str(pattern.pattern)
        if route.startswith("^") or "(?P" in route:
            continue  # regex routes (the app index, the catch-all) are requested on their own
        names = re.findall(r"<(?:\w+:)?(\w+)>", route)
        filled = [route]
        for name in names:
            options = values.get(name, JUNK)
            filled = [
                re.sub(rf"<(?:\w+:)?{name}>", value.replace("\\", "\\\\"), url, count=1)
                for url in filled
                for value in options
            ]
        urls += [prefix + url for url in filled]
    return urls


def lookup_params(model, every_lookup: bool = True) -> list[tuple[str, str]]:
    """Every concrete field (and foreign key id) with every lookup, and a path through a relation."""
    params = []
    for field in model._meta.concrete_fields:
        names = {field.attname}
        if field.is_relation:
            names.add(f"{field.name}__pk")
        for name in sorted(names):
            for suffix, values in LOOKUP_JUNK.items() if every_lookup else [("", LOOKUP_JUNK[""])]:
                params += [(f"{name}{suffix}", value) for value in values]
    return params


def assert_no_server_error(client, method: str, url: str, data=None) -> None:
    response = getattr(client, method)(url, data or {})
    assert response.status_code < 500, f"{method.upper()} {url} {data!r} -> {response.status_code}"


@pytest.fixture
def org_objects(db, org_a, staff_owner_a):
    """One object of every scoped model in org A, the staff owner's org."""
    objects = {}
    for model in tenancy.scoped_models():
        try:
            objects[model] = build(model, org_a)
        except AssertionError:
            continue
    objects[Group] = Group.objects.create(name="fuzz")
    return objects


@pytest.fixture(params=["superuser", "org_staff"])
def acting_client(request, client, superuser, staff_owner_a):
    client.raise_request_exception = False
    client.force_login(superuser if request.param == "superuser" else staff_owner_a)
    client.actor = request.param
    return client


def _values(model, objects, staff_owner_a) -> dict[str, list[str]]:
    obj = objects.get(model)
    real = [str(obj.pk)] if obj is not None else []
    return {
        "object_id": [*real, *JUNK],
        "object_pk": [*real, *JUNK],
        "id": [*real, *JUNK],
        "user_id": [str(staff_owner_a.pk), *JUNK],
        "group_id": [*JUNK],
    }


@pytest.mark.django_db
@pytest.mark.parametrize("model", [m for m, _ in MODEL_ADMINS], ids=lambda m: m._meta.label)
def test_every_page_of_a_model_admin(model, acting_client, org_objects, staff_owner_a):
    model_admin = admin.site._registry[model]
    prefix = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    for url in route_urls(prefix, model_admin.get_urls(), _values(model, org_objects, staff_owner_a)):
        assert_no_server_error(acting_client, "get", url)
    changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    # Every lookup for the superuser; org staff go through the same filter code on a narrower
    # queryset, so the plain filters suffice there.
    for name, value in lookup_params(model, every_lookup=acting_client.actor == "superuser"):
        assert_no_server_error(acting_client, "get", changelist, {name: value})
    for name, values in QUERY_JUNK.items():
        for value in values:
            assert_no_server_error(acting_client, "get", changelist, {name: value})
    for name, value in lookup_params(model)[:: len(JUNK)]:
        assert_no_server_error(acting_client, "get", prefix + "add/", {name: value})


@pytest.mark.django_db
@pytest.mark.parametrize("model", [m for m, _ in MODEL_ADMINS], ids=lambda m: m._meta.label)
def test_junk_posted_to_every_form_and_action(model, acting_client, org_objects, staff_owner_a):
    model_admin = admin.site._registry[model]
    prefix = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
    obj = org_objects.get(model)
    field_names = [f.name for f in model._meta.get_fields() if getattr(f, "concrete", False)]
    field_names += ["password1", "password2", "members"]
    targets = [prefix + "add/"] + ([f"{prefix}{obj.pk}/change/"] if obj is not None else [])
    for url in targets:
        for value in FORM_JUNK:
            assert_no_server_error(acting_client, "post", url, {name: value for name in field_names})
    changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    for action in ["delete_selected", "nosuch", *(model_admin.actions or [])]:
        for selected in (["not-a-uuid"], ["\x00"], ["99999999999999999999"], []):
            data = {"action": action, "_selected_action": selected, "index": "0"}
            assert_no_server_error(acting_client, "post", changelist, data)
        data = {"action": action, "select_across": "1", "index": "zz"}
        assert_no_server_error(acting_client, "post", changelist, data)


@pytest.mark.django_db
@pytest.mark.parametrize("table", RECORD_TABLES, ids=lambda t: t.url_name)
def test_every_record_table_filter(table, acting_client, org_objects):
    url = reverse(f"admin:{table.url_name}")
    assert_no_server_error(acting_client, "get", url)
    for name in table.filters:
        for value in JUNK:
            assert_no_server_error(acting_client, "get", url, {name: value})
    for value in QUERY_JUNK["page"]:
        assert_no_server_error(acting_client, "get", url, {"page": value})


@pytest.mark.django_db
def test_site_views_with_junk(acting_client, org_objects, staff_owner_a):
    site_values = {"content_type_id": ["1", *JUNK], "object_id": [*JUNK, str(staff_owner_a.pk)]}
    for url in route_urls("/admin/", admin.site.get_urls(), site_values):
        if url.endswith("logout/"):
            continue  # would end the session the rest of the walk needs
        assert_no_server_error(acting_client, "get", url)
    for app_label in ["orchestration", "nosuch", "%00"]:
        assert_no_server_error(acting_client, "get", f"/admin/{app_label}/")
    autocomplete = reverse("admin:autocomplete")
    for model, _ in MODEL_ADMINS:
        for field in model._meta.concrete_fields:
            if not field.is_relation:
                continue
            for term in ["\x00", "zz", "99999999999999999999"]:
                params = {
                    "app_label": model._meta.app_label,
                    "model_name": model._meta.model_name,
                    "field_name": field.name,
                    "term": term,
                    "page": "x",
                }
                assert_no_server_error(acting_client, "get", autocomplete, params)
    for junk in JUNK:
        assert_no_server_error(acting_client, "get", f"/admin/{junk}/nosuch/")
        assert_no_server_error(acting_client, "get", autocomplete, {"app_label": junk, "term": junk})


@pytest.mark.django_db
def test_a_staff_viewer_running_actions_with_junk(client, org_a, org_objects):
    viewer = UserFactory(org=org_a, role="viewer", is_staff=True)
    client.raise_request_exception = False
    client.force_login(viewer)
    for model, model_admin in MODEL_ADMINS:
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for action in model_admin.actions or []:
            data = {"action": action, "_selected_action": ["not-a-uuid", "\x00"]}
            assert_no_server_error(client, "post", changelist, data)


@pytest.mark.django_db
def test_bad_filters_are_named_not_failed(admin_client, org_a):
    table = reverse("admin:orchestration_taskinput_records")
    response = admin_client.get(table, {"task_id": "zz"})
    assert response.status_code == 400
    assert "Filter task_id" in response.content.decode()
    changelist = reverse("admin:orchestration_task_changelist")
    response = admin_client.get(changelist, {"attempts": "99999999999999999999", "status": "failed"})
    assert response.status_code == 302 and response["Location"] == f"{changelist}?status=failed"
    page = admin_client.get(response["Location"]).content.decode()
    assert "Filter attempts ignored" in page
    # The sidebar's own filter parameters and good values still filter.
    invalidations = reverse("admin:versioning_datainvalidation_changelist")
    assert admin_client.get(invalidations, {"processed_at__isempty": "1"}).status_code == 200
    assert admin_client.get(changelist, {"attempts__gte": "2", "status__exact": "failed"}).status_code == 200
    job_backfill = "/admin/orchestration/job/not-a-uuid/backfill/"
    assert admin_client.get(job_backfill).status_code == 404
