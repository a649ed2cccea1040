"""The schema documents every error status each operation can answer, with the API's error body."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

ALWAYS = {"401", "403", "405", "429", "503"}


@pytest.fixture(scope="module")
def document():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(document):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield path, method, operation


def test_every_operation_documents_the_errors_any_request_can_meet(document):
    for path, method, operation in operations(document):
        codes = set(operation["responses"])
        assert codes >= ALWAYS, (method, path, ALWAYS - codes)
        assert "500" not in codes, (method, path)  # a 500 is a bug, not an answer
        if "{" in path:
            assert "404" in codes, (method, path)
        if method in {"post", "put", "patch"}:
            assert {"400", "409"} <= codes, (method, path)
        if any(p["in"] == "query" for p in operation.get("parameters", [])):
            assert "400" in codes, (method, path)


def test_error_bodies_have_the_standard_shape(document):
    schemas = document["components"]["schemas"]
    responses = document["paths"]["/api/v1/jobs/"]["post"]["responses"]
    for code in ("400", "409", "503"):
        ref = responses[code]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        body = schemas[ref]
        assert set(body["properties"]) == {"type", "errors"}, code
        item = body["properties"]["errors"]["items"]["$ref"].rsplit("/", 1)[1]
        assert set(schemas[item]["properties"]) == {"code", "detail", "attr"}


def test_result_reads_document_not_ready_and_expired(document):
    rows = document["paths"]["/api/v1/query-results/{id}/rows/"]["get"]["responses"]
    assert {"409", "410"} <= set(rows)
    assert "410" in document["paths"]["/api/v1/query-results/{id}/"]["get"]["responses"]


def test_a_listed_token_has_no_secret_and_a_created_one_has(document):
    schemas = document["components"]["schemas"]
    listed = document["paths"]["/api/v1/tokens/"]["get"]["responses"]["200"]["content"]["application/json"]
    page = schemas[listed["schema"]["$ref"].rsplit("/", 1)[1]]
    item = schemas[page["properties"]["results"]["items"]["$ref"].rsplit("/", 1)[1]]
    assert "token" not in item["properties"]
    created = document["paths"]["/api/v1/tokens/"]["post"]["responses"]["201"]["content"]["application/json"]
    created_item = schemas[created["schema"]["$ref"].rsplit("/", 1)[1]]
    assert "token" in created_item["required"]
