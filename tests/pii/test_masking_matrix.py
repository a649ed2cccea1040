"""Generated from the registry: every registered model field, on every surface that shows it, is masked
by default, unmasked only with the right AND an explicit request, and each unmasked read writes
exactly one access-log row per field and record read.

The surfaces are discovered, not listed: every API route whose viewset serves the model and whose
serializer carries the field, the model's admin list and change pages, and the row-printing commands
in ``COMMANDS``. A newly registered field or a new endpoint serving a registered model is covered
without touching this file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from pii.masking import mask_value
from pii.models import PiiAccessLog
from pii.registry import model_fields
from platform_site import tenancy
from platform_site.api.routers import api_router, api_urls
from tests.tenancy_objects import build

pytestmark = pytest.mark.django_db

SECRET = "jane.doe@example.com"
# Commands that print rows of a model: model label -> command name.
COMMANDS = {"orgs.User": "list_users"}


@dataclass(frozen=True)
class Read:
    """What a surface showed: the text to search, and the status."""

    status: int
    text: str


def _api_prefixes(model, field):
    api_urls()  # every app's api/urls.py registered
    for prefix, viewset, basename in api_router.registry:
        queryset = getattr(viewset, "queryset", None)
        if queryset is None or queryset.model is not model:
            continue
        if field in viewset.serializer_class().fields:
            yield prefix, basename


def _surfaces():
    for model, field, strategy in model_fields():
        for prefix, basename in _api_prefixes(model, field):
            yield pytest.param(
                model, field, strategy, "api_detail", basename, id=f"{model.__name__}.{field}-{prefix}-detail"
            )
            yield pytest.param(
                model, field, strategy, "api_list", basename, id=f"{model.__name__}.{field}-{prefix}-list"
            )
        if model in admin.site._registry:
            yield pytest.param(
                model, field, strategy, "admin_change", None, id=f"{model.__name__}.{field}-admin-change"
            )
            yield pytest.param(
                model, field, strategy, "admin_list", None, id=f"{model.__name__}.{field}-admin-list"
            )
        if model._meta.label in COMMANDS:
            yield pytest.param(
                model,
                field,
                strategy,
                "command",
                COMMANDS[model._meta.label],
                id=f"{model.__name__}.{field}-command",
            )


SURFACES = list(_surfaces())


def test_the_registry_reaches_every_surface_kind():
    kinds = {param.values[3] for param in SURFACES}
    assert kinds == {"api_detail", "api_list", "admin_change", "admin_list", "command"}


def _read(surface, route, obj, reader, client, *, unmask: bool) -> Read:
    opts = obj._meta
    if surface in ("api_detail", "api_list"):
        api = APIClient()
        api.force_authenticate(reader)
        url = (
            reverse(f"{route}-detail", args=[obj.pk]) if surface == "api_detail" else reverse(f"{route}-list")
        )
        response = api.get(url, {"unmask": "true"} if unmask else {})
        return Read(response.status_code, response.content.decode())
    if surface in ("admin_change", "admin_list"):
        client.force_login(reader)
        if surface == "admin_change":
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        else:
            url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        response = client.get(url, {"unmask": "1"} if unmask else {})
        return Read(response.status_code, response.content.decode())
    out = io.StringIO()
    args = ["--as", reader.external_id, "--org", reader.org.slug] + (["--unmask"] if unmask else [])
    try:
        call_command(route, *args, stdout=out)
    except CommandError as exc:
        return Read(403, str(exc))
    return Read(200, out.getvalue())


def _log(model, field):
    return PiiAccessLog.objects.filter(dataset=model._meta.db_table, column_name=field)


ACTIONS = {
    "api_detail": "api_view",
    "api_list": "api_view",
    "admin_change": "admin_view",
    "admin_list": "admin_view",
    "command": "export",
}


@pytest.fixture
def target(org_a):
    def make(model, field):
        obj = build(model, org_a)
        setattr(obj, field, SECRET)
        obj.save(update_fields=[field])
        return obj

    return make


@pytest.mark.parametrize(("model", "field", "strategy", "surface", "route"), SURFACES)
def test_masked_by_default(model, field, strategy, surface, route, target, reader, client):
    obj = target(model, field)
    seen = _read(surface, route, obj, reader, client, unmask=False)
    assert seen.status == 200
    assert SECRET not in seen.text
    assert mask_value(SECRET, strategy) in seen.text
    assert not _log(model, field).exists()


@pytest.mark.parametrize(("model", "field", "strategy", "surface", "route"), SURFACES)
def test_an_explicit_request_without_the_right_is_refused(
    model, field, strategy, surface, route, target, reader, client
):
    obj = target(model, field)
    seen = _read(surface, route, obj, reader, client, unmask=True)
    assert seen.status == 403
    assert SECRET not in seen.text
    assert not _log(model, field).exists()


@pytest.mark.parametrize(("model", "field", "strategy", "surface", "route"), SURFACES)
def test_the_right_without_an_explicit_request_still_masks(
    model, field, strategy, surface, route, target, unmasker, client
):
    obj = target(model, field)
    seen = _read(surface, route, obj, unmasker, client, unmask=False)
    assert seen.status == 200
    assert SECRET not in seen.text
    assert not _log(model, field).exists()


@pytest.mark.parametrize(("model", "field", "strategy", "surface", "route"), SURFACES)
def test_the_right_and_an_explicit_request_unmask_and_log_one_row_per_field_and_record(
    model, field, strategy, surface, route, target, unmasker, client
):
    obj = target(model, field)
    seen = _read(surface, route, obj, unmasker, client, unmask=True)
    assert seen.status == 200
    assert SECRET in seen.text
    log = _log(model, field)
    assert log.filter(record_id=obj.pk).count() == 1
    entry = log.get(record_id=obj.pk)
    assert (entry.user_id, entry.action) == (unmasker.pk, ACTIONS[surface])
    # Lists log every record they showed, each once: as many rows as distinct records.
    records = list(log.values_list("record_id", flat=True))
    assert len(records) == len(set(records))
    if surface in ("api_detail", "admin_change"):
        assert records == [obj.pk]
    else:
        # Every record of the reader's org that the list showed (the test org holds fewer than a page).
        shown = tenancy.visible_to(unmasker, model).count()
        assert len(records) == shown > 1
