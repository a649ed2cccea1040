"""Tenancy isolation of the whole admin, generated from the admin site's registry.

For every registered ModelAdmin and every record table, org A's staff owner never sees org B's
objects in a list, and gets 404 on every page of one (change, history, delete, object permissions),
for GET and POST. Superuser-only admins (auth groups, the task queue) refuse org staff entirely.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from access.services import api_token_create
from platform_site import tenancy
from tests.tenancy_objects import build, marker

SCOPED = sorted(
    (model for model in admin.site._registry if tenancy.has_scope(model)), key=lambda m: m._meta.label
)
UNSCOPED = sorted(
    (model for model in admin.site._registry if not tenancy.has_scope(model)), key=lambda m: m._meta.label
)
RECORD_TABLES = sorted(admin.site.record_tables, key=lambda t: t.url_name)


def own_object(model, org_a, owner):
    if model._meta.label_lower == "access.apitoken":
        return api_token_create(user=owner, name="mine")[0]
    return build(model, org_a)


def object_urls(model, obj) -> list[str]:
    info = model._meta.app_label, model._meta.model_name
    urls = [
        reverse(f"admin:{info[0]}_{info[1]}_change", args=[obj.pk]),
        reverse(f"admin:{info[0]}_{info[1]}_history", args=[obj.pk]),
        reverse(f"admin:{info[0]}_{info[1]}_delete", args=[obj.pk]),
    ]
    if hasattr(admin.site._registry[model], "obj_perms_manage_view"):
        urls.append(reverse(f"admin:{info[0]}_{info[1]}_permissions", args=[obj.pk]))
    return urls


def test_every_admin_is_scoped():
    from orgs.admin_tenancy import OrgScopedAdminMixin, SuperuserOnlyAdminMixin

    for model, model_admin in admin.site._registry.items():
        expected = OrgScopedAdminMixin if tenancy.has_scope(model) else SuperuserOnlyAdminMixin
        assert isinstance(model_admin, expected), model._meta.label


@pytest.mark.django_db
@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m._meta.label)
def test_changelist_shows_only_own_org(model, staff_client, org_a, org_b, staff_owner_a):
    theirs = build(model, org_b)
    mine = own_object(model, org_a, staff_owner_a)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    response = staff_client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert marker(theirs, "admin") not in body
    assert marker(mine, "admin") in body
    assert org_b.name not in body


@pytest.mark.django_db
@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m._meta.label)
def test_other_orgs_object_pages_are_404(model, staff_client, org_b):
    theirs = build(model, org_b)
    for url in object_urls(model, theirs):
        assert staff_client.get(url).status_code == 404, url
        assert staff_client.post(url, {"post": "yes"}).status_code == 404, url
    assert type(theirs)._default_manager.filter(pk=theirs.pk).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("table", RECORD_TABLES, ids=lambda t: t.url_name)
def test_record_tables_show_only_own_org(table, staff_client, org_a, org_b, staff_owner_a):
    theirs = build(table.model, org_b)
    mine = own_object(table.model, org_a, staff_owner_a)
    url = reverse(f"admin:{table.url_name}")
    body = staff_client.get(url).content.decode()
    assert marker(theirs, "admin") not in body and marker(mine, "admin") in body
    # Filtering on the other org's keys finds nothing either.
    params = {name: str(getattr(theirs, name)) for name in table.filters if getattr(theirs, name, None)}
    assert params
    # (The filter form echoes the values back, so look at the rows, not the page.)
    assert staff_client.get(url, params).context["rows"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("model", UNSCOPED, ids=lambda m: m._meta.label)
def test_unscoped_admins_are_for_superusers_only(model, staff_client, superuser):
    from django.test import Client

    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert staff_client.get(url).status_code == 403
    root = Client()
    root.force_login(superuser)
    assert root.get(url).status_code == 200
