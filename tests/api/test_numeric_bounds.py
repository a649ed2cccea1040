"""Huge numbers, NaN and Infinity in the API's numeric inputs are 400s with the field named."""

from __future__ import annotations

import pytest

from testkit.factories import SavedQueryFactory


@pytest.fixture
def execute_urls(owner_a):
    saved = SavedQueryFactory(org=owner_a.org, user=owner_a)
    return ["/api/v1/query-results/execute/", f"/api/v1/saved-queries/{saved.pk}/execute/"]


@pytest.mark.parametrize("max_age", [1e15, 10**30, 315_360_001, -1])
def test_an_out_of_range_max_age_is_a_field_error(api, execute_urls, max_age):
    for url in execute_urls:
        response = api.post(url, {"sql": "SELECT 1", "max_age": max_age}, format="json")
        assert response.status_code == 400, (url, response.content)
        assert [e["attr"] for e in response.json()["errors"]] == ["max_age"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_non_finite_numbers_in_a_body_are_refused(api, execute_urls, literal):
    body = '{"sql": "SELECT 1", "max_age": ' + literal + "}"
    for url in execute_urls:
        response = api.post(url, body, content_type="application/json")
        assert response.status_code == 400, (url, literal, response.content)


@pytest.mark.parametrize("days", [366, 10**30, 1e15])
def test_a_token_lifetime_is_bounded(api, days):
    response = api.post("/api/v1/tokens/", {"name": "ci", "expires_in_days": days}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["attr"] == "expires_in_days"


@pytest.mark.parametrize(
    "query",
    ["page_size=99999999999999999999999", "page=99999999999999999999999", "page_size=-5", "page=NaN"],
)
def test_huge_or_odd_page_parameters_are_not_server_errors(api, query):
    for url in ("/api/v1/query-results/", "/api/v1/saved-queries/", "/api/v1/jobs/"):
        assert api.get(f"{url}?{query}").status_code < 500, (url, query)
