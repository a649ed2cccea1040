"""`manage.py create_api_token` gives an integration a working token without a browser."""

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from testkit.factories import UserFactory


def issue(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("create_api_token", *args, stdout=out)
    return out.getvalue().strip()


def test_printed_token_authenticates(org_a):
    user = UserFactory(org=org_a, external_id="robot@alpha")
    secret = issue("robot@alpha", "--name", "ci")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    response = client.get("/api/v1/jobs/")
    assert response.status_code == 200
    assert user.auth_token_set.get().name == "ci"


@pytest.mark.parametrize("args", [("nobody@alpha",), ("robot@alpha", "--expires-in-days", "0")])
def test_bad_input_is_a_clear_error_and_creates_nothing(org_a, args):
    user = UserFactory(org=org_a, external_id="robot@alpha")
    with pytest.raises(CommandError):
        issue(*args)
    assert not user.auth_token_set.exists()
