"""Tenancy isolation of the whole API, generated from the OpenAPI schema.

For every operation in the schema, a user of org A (its owner, the strongest role short of superuser)
gets 404 for org B's objects on every detail URL and verb, never sees them in a list, cannot create an
object inside org B, and cannot move one of its own objects into org B. A new endpoint appears in the
schema and is covered here without editing this file (a model with no builder fails loudly).
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import resolve
from drf_spectacular.generators import SchemaGenerator

from access.services import api_token_create
from orgs.models import Org
from platform_site import tenancy
from testkit.factories import JobFactory
from tests.tenancy_objects import build, marker

PREFIX = "/api/v1/"
SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
OPERATIONS = [
    (path, method)
    for path, item in sorted(SCHEMA["paths"].items())
    if path.startswith(PREFIX)
    for method in item
    if method in {"get", "post", "put", "patch", "delete"}
]
PARAM = re.compile(r"\{(\w+)\}")

# A valid body for each create endpoint, plus the other org's id wherever input could name an org.
CREATE_BODIES = {
    "users": {"external_id": "new@alpha", "email": "new@example.com", "role": "member"},
    "org-roles": {"slug": "oncall", "name": "On call"},
    "jobs": {
        "name": "new-job",
        "dag_name": "dag",
        "runtime": "sql",
        "operator": "duckdb_sql",
        "source": {"sql": "select 1"},
        "output_datasets": ["alpha.out"],
    },
    "address-labels": {"address": "0x" + "ab" * 20, "label": "exchange", "visibility": "org"},
    "saved-queries": {"name": "q", "query": "select 1", "visibility": "org"},
    "query-results": {"sql": "select 1"},
    "alert-definitions": {"name": "a", "condition": {"dataset": "evm.logs"}, "visibility": "org"},
    "invalidations": {"dataset": "alpha.out", "scope": "dataset", "reason": "fix"},
    "tokens": {"name": "ci"},
    "contracts": {"name": "usdc", "chain": "evm", "standard": "erc20"},
}


def view_class(path: str):
    concrete = PARAM.sub(lambda m: str(uuid.uuid4()), path)
    return resolve(concrete).func.cls


def model_of(path: str):
    return view_class(path).queryset.model


def org_of(obj) -> uuid.UUID:
    """The org an object belongs to, whichever way its model records ownership."""
    if isinstance(obj, Org):
        return obj.pk
    scope = tenancy.scope_for(type(obj))
    if scope.org_field is None:
        return Org.objects.get(slug=obj.dataset.split(".", 1)[0]).pk
    target = obj
    for part in scope.org_field.split("__"):
        target = getattr(target, part)
    return target.pk


def fill(path: str, obj) -> str:
    def value(match):
        name = match.group(1)
        if name in {"id", "pk"}:
            return str(obj.pk)
        return str(getattr(obj, name, uuid.uuid4()))

    return PARAM.sub(value, path)


def own_object(model, org_a, owner):
    if model._meta.label_lower == "access.apitoken":
        return api_token_create(user=owner, name="mine")[0]
    return build(model, org_a)


def objects_of(path: str, model, org_a, org_b, owner):
    """(theirs, mine) for the endpoint: a contract is a decoding job, listed only as such."""
    if resource(path) == "contracts":
        return decoding_job(org_b), decoding_job(org_a)
    return build(model, org_b), own_object(model, org_a, owner)


def decoding_job(org):
    return JobFactory(
        org=org,
        operator="evm_decode",
        input_datasets=["evm.logs"],
        config={"contract": "c", "standard": "erc20"},
    )


def resource(path: str) -> str:
    return path[len(PREFIX) :].split("/", 1)[0]


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m.upper()} {p}" for p, m in OPERATIONS])
def test_other_orgs_objects_are_out_of_reach(path, method, api, org_a, org_b, owner_a):
    model = model_of(path)
    theirs, mine = objects_of(path, model, org_a, org_b, owner_a)
    has_params = bool(PARAM.search(path))

    if has_params:
        response = api.generic(method.upper(), fill(path, theirs), data="{}", content_type="application/json")
        assert response.status_code == 404, response.content
        assert marker(theirs) not in response.content.decode()
        return

    if method == "get":
        response = api.get(path, {"page_size": 500})
        assert response.status_code == 200
        # Exports stream (the access log's CSV).
        body = (b"".join(response.streaming_content) if response.streaming else response.content).decode()
        assert marker(theirs) not in body
        assert marker(mine) in body  # the list is not simply empty
        return

    assert method == "post"
    body = CREATE_BODIES.get(resource(path))
    assert body is not None, f"add a create body for {path} to CREATE_BODIES"
    payload = {**body, "org": str(org_b.pk), "user": str(build(type(owner_a), org_b).pk)}
    before = sorted(str(pk) for pk in model._default_manager.values_list("pk", flat=True))
    response = api.post(path, payload, format="json")
    assert response.status_code in (201, 400), response.content
    created = model._default_manager.exclude(pk__in=before)
    assert all(org_of(obj) == org_a.pk for obj in created)
    if response.status_code == 201:
        assert created.exists()


WRITABLE_DETAIL = [(path, method) for path, method in OPERATIONS if method in {"put", "patch"}]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "method"), WRITABLE_DETAIL, ids=[f"{m.upper()} {p}" for p, m in WRITABLE_DETAIL]
)
def test_own_objects_cannot_be_moved_into_another_org(path, method, api, org_a, org_b, owner_a):
    model = model_of(path)
    mine = own_object(model, org_a, owner_a)
    other_user = build(type(owner_a), org_b)
    api.generic(
        method.upper(),
        fill(path, mine),
        data=f'{{"org": "{org_b.pk}", "user": "{other_user.pk}", "dataset": "bravo.x"}}',
        content_type="application/json",
    )
    mine.refresh_from_db()
    assert org_of(mine) == org_a.pk


@pytest.mark.django_db
def test_invalidating_another_orgs_dataset_is_a_field_error(api):
    response = api.post(
        "/api/v1/invalidations/", {"dataset": "bravo.blocks", "scope": "dataset"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "dataset"


@pytest.mark.django_db
def test_a_job_cannot_write_another_orgs_namespace(api):
    body = {**CREATE_BODIES["jobs"], "output_datasets": ["bravo.stolen"]}
    response = api.post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "output_datasets"


@pytest.mark.django_db
def test_a_user_of_another_org_cannot_join_a_role(api, org_a, org_b):
    from testkit.factories import OrgRoleFactory, UserFactory

    role = OrgRoleFactory(org=org_a)
    stranger = UserFactory(org=org_b)
    response = api.post(f"/api/v1/org-roles/{role.pk}/members/", {"user": str(stranger.pk)}, format="json")
    assert response.status_code == 404
    assert not role.memberships.exists()


def test_the_matrix_covers_every_router_resource():
    from platform_site.api.routers import api_router

    covered = {resource(path) for path, _ in OPERATIONS}
    assert {prefix for prefix, _, _ in api_router.registry} <= covered
