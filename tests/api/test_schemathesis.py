"""The OpenAPI schema is true: schemathesis generates requests for every operation, as every role,
and each response must be no server error, carry a status code the schema documents for the
operation, and match the documented body for that status. Bounded in examples per operation.

Requests go through the WSGI app (the whole middleware stack) with real API tokens; throttling is
off here so that a 429 from many generated requests does not hide the answers being checked.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from rest_framework.views import APIView
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from access.services import api_token_create
from testkit.factories import (
    AddressLabelFactory,
    AlertDefinitionFactory,
    JobFactory,
    OrgFactory,
    QueryResultFactory,
    SavedQueryFactory,
    TaskFactory,
    UserFactory,
)

EXAMPLES_PER_OPERATION = 6
ROLES = ["superuser", "owner", "member", "viewer"]
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

_document = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
schema = schemathesis.openapi.from_dict(_document)
schema.app = get_wsgi_application()


@pytest.fixture
def same_connection():
    """Requests run in the test's transaction: like Django's test client, keep the WSGI handler
    from closing the connection at the end of each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def no_throttling(monkeypatch):
    # Views read their throttle classes when defined, so a settings change would come too late.
    monkeypatch.setattr(APIView, "get_throttles", lambda self: [])


@pytest.fixture
def tokens(db, same_connection, no_throttling, tmp_path, settings):
    """A token per role, and some rows of the org to find so lookups and filters meet real data."""
    settings.STORAGE_URL = (tmp_path / "lake").as_uri()
    settings.RESULT_STORAGE_URL = (tmp_path / "results").as_uri()
    org = OrgFactory(slug="alpha")
    users = {
        "superuser": UserFactory(org=org, role="owner", is_superuser=True, is_staff=True),
        "owner": UserFactory(org=org, role="owner"),
        "member": UserFactory(org=org, role="member"),
        "viewer": UserFactory(org=org, role="viewer"),
    }
    owner = users["owner"]
    TaskFactory(job=JobFactory(org=org))
    AlertDefinitionFactory(org=org, user=owner)
    SavedQueryFactory(org=org, user=owner)
    QueryResultFactory(org=org, user=owner)
    AddressLabelFactory(org=org, user=owner)
    return {role: api_token_create(user=user, name=f"schemathesis {role}")[1] for role, user in users.items()}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_keeps_to_its_schema(case, tokens, role):
    case.call_and_validate(headers={"Authorization": f"Token {tokens[role]}"}, checks=CHECKS)
