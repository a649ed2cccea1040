"""Channel secrets are write-only: shown once when created, then redacted on every surface, to
everyone; an edit that sends them back redacted keeps them, a new value or a rotation replaces them."""

import pytest
from django.test import Client

from alerting.channel_secrets import redact_secret
from alerting.models import AlertDefinition
from testkit.factories import OrgFactory, UserFactory
from tests.alerting.conftest import OTHER_SECRET, SECRET, big_transfer_condition, publish
from tests.alerting.test_channel_forms import page_data
from tests.alerting.test_surfaces import api

pytestmark = pytest.mark.django_db

SLACK = "http://127.0.0.1:9/services/T000/B000/XXXXsecretpath"


@pytest.fixture
def created(platform, org, member, receiver):
    publish(0, 9)
    body = {
        "name": "big",
        "condition": big_transfer_condition(),
        "visibility": "public",
        "channels": [
            {"type": "webhook", "url": receiver.url + "/hook", "secret": SECRET},
            {"type": "slack", "webhook_url": SLACK},
        ],
    }
    response = api(member).post("/api/v1/alert-definitions/", body, format="json")
    assert response.status_code == 201, response.data
    return response


def shows_a_secret(text: str) -> bool:
    return SECRET in text or SECRET[6:] in text or "XXXXsecretpath" in text or OTHER_SECRET in text


def test_the_create_answer_shows_the_secrets_once_and_nothing_else_does(created, org, member):
    assert created.data["channels"][0]["secret"] == SECRET
    assert created.data["channels"][1]["webhook_url"] == SLACK
    definition_id = created.data["id"]
    detail = api(member).get(f"/api/v1/alert-definitions/{definition_id}/")
    listed = api(member).get("/api/v1/alert-definitions/")
    for text in (str(detail.data), str(listed.data)):
        assert not shows_a_secret(text)
    assert detail.data["channels"][0]["secret"] == "whsec_..." + SECRET[-4:]
    assert detail.data["channels"][1]["webhook_url"] == "http://127.0.0.1/..."
    outsider = UserFactory(org=OrgFactory(slug="zeta"), role="admin")
    public = api(outsider).get(f"/api/v1/alert-definitions/{definition_id}/")
    assert public.status_code == 200 and not shows_a_secret(str(public.data))


def test_an_edit_that_sends_the_redacted_form_keeps_the_secret_and_a_new_one_replaces_it(created, member):
    definition_id = created.data["id"]
    shown = api(member).get(f"/api/v1/alert-definitions/{definition_id}/").data
    response = api(member).patch(
        f"/api/v1/alert-definitions/{definition_id}/", {"channels": shown["channels"]}, format="json"
    )
    assert response.status_code == 200, response.data
    stored = AlertDefinition.objects.get(pk=definition_id).channels
    assert stored[0]["secret"] == SECRET and stored[1]["webhook_url"] == SLACK
    # A rotation: the old secret (sent back redacted) and a new one, signed with both.
    rotated = [
        {**shown["channels"][0], "secret": [redact_secret(SECRET), OTHER_SECRET]},
        shown["channels"][1],
    ]
    response = api(member).patch(
        f"/api/v1/alert-definitions/{definition_id}/", {"channels": rotated}, format="json"
    )
    assert response.status_code == 200, response.data
    assert AlertDefinition.objects.get(pk=definition_id).channels[0]["secret"] == [SECRET, OTHER_SECRET]
    assert not shows_a_secret(str(response.data))
    # Left out entirely: kept.
    bare = [{"type": "webhook", "url": shown["channels"][0]["url"]}, shown["channels"][1]]
    api(member).patch(f"/api/v1/alert-definitions/{definition_id}/", {"channels": bare}, format="json")
    assert AlertDefinition.objects.get(pk=definition_id).channels[0]["secret"] == [SECRET, OTHER_SECRET]


def test_the_admin_change_page_never_shows_a_secret(created, org, member):
    definition_id = created.data["id"]
    for user in (member, UserFactory(org=org, role="viewer", is_staff=True)):
        browser = Client()
        browser.force_login(user)
        page = browser.get(f"/admin/alerting/alertdefinition/{definition_id}/change/")
        assert page.status_code == 200
        assert not shows_a_secret(page.content.decode())
        assert "whsec_..." in page.content.decode()


def test_saving_the_admin_form_as_shown_keeps_the_secrets(created, member):
    definition = AlertDefinition.objects.get(pk=created.data["id"])
    browser = Client()
    browser.force_login(member)
    page = browser.get(f"/admin/alerting/alertdefinition/{definition.pk}/change/")
    data = page_data(page)
    data["name"] = "renamed"
    response = browser.post(f"/admin/alerting/alertdefinition/{definition.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    definition.refresh_from_db()
    assert definition.name == "renamed"
    assert definition.channels[0]["secret"] == SECRET and definition.channels[1]["webhook_url"] == SLACK
