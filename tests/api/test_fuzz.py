"""Schema-driven fuzzing: schemathesis generates requests for every operation of the OpenAPI schema
and no response may be a 5xx. Bounded in examples per operation and in time per operation."""

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
from schemathesis.checks import not_a_server_error

from access.services import api_token_create
from tests.factories import AlertDefinitionFactory, JobFactory, OrgFactory, TaskFactory, UserFactory

EXAMPLES_PER_OPERATION = 8

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
def token(db, same_connection):
    org = OrgFactory(slug="alpha")
    owner = UserFactory(org=org, role="owner")
    # Some rows to find, so filters and detail lookups meet real data too.
    TaskFactory(job=JobFactory(org=org))
    AlertDefinitionFactory(org=org, user=owner)
    return api_token_create(user=owner, name="fuzz")[1]


@pytest.mark.timeout(180)
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case, token):
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=[not_a_server_error])
