"""While the database cannot be reached, pages answer a friendly 503 with Retry-After, not a 500.

The outage is real: the connection is pointed at a socket folder where no server listens.
"""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def database_down(tmp_path):
    saved = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update({"HOST": str(tmp_path), "PORT": "5999"})
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


@pytest.mark.parametrize("path", ["/admin/", "/admin/orchestration/job/", "/api/v1/jobs/"])
def test_pages_answer_503_while_the_database_is_down(admin_client, database_down, path):
    admin_client.raise_request_exception = False
    response = admin_client.get(path)
    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert b"database is unavailable" in response.content


def test_pages_work_again_once_the_database_is_back(admin_client, tmp_path):
    saved = dict(connection.settings_dict)
    admin_client.raise_request_exception = False
    connection.close()
    connection.settings_dict.update({"HOST": str(tmp_path), "PORT": "5999"})
    try:
        assert admin_client.get("/admin/").status_code == 503
    finally:
        connection.close()
        connection.settings_dict.update(saved)
    assert admin_client.get("/admin/").status_code == 200


def test_the_api_answers_the_outage_with_its_usual_error_body(admin_client, database_down):
    admin_client.raise_request_exception = False
    response = admin_client.get("/api/v1/jobs/")
    assert response.status_code == 503
    (error,) = response.json()["errors"]
    assert response.json()["type"] == "server_error"
    assert (error["code"], error["attr"]) == ("database_unavailable", None)
