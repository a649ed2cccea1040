"""Channels as rows of the definition's admin page: each type round-trips, a generated secret is shown
once and kept, a refused URL names the setting that allow-lists it, bad input is a field error, and
each saved channel's test button (and the API route behind it) sends to that channel now."""

import json
import re

import pytest
from django.core import mail
from django.urls import reverse
from standardwebhooks import Webhook

from alerting.channel_forms import ChannelFormSet
from alerting.models import AlertDefinition, AlertDelivery, AlertEvent
from alerting.services import alert_definition_create
from testkit.factories import OrgFactory, UserFactory
from tests.alerting.conftest import SECRET, big_transfer_condition, publish
from tests.alerting.receiver import Answer
from tests.alerting.test_surfaces import api

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/alerting/alertdefinition/add/"
NEW_SECRET = re.compile(r"<code[^>]*data-new-secret[^>]*>(whsec_[A-Za-z0-9+/=]+)</code>")


def change_url(definition) -> str:
    return reverse("admin:alerting_alertdefinition_change", args=[definition.pk])


def channel_test_url(definition, index: int) -> str:
    return reverse("admin:alerting_alertdefinition_channel_test", args=[definition.pk, index])


def page_data(response) -> dict:
    """What the page's form posts as it is shown: the definition's fields and every channel row."""
    form = response.context["adminform"].form
    data = {}
    for name in ("org", "name", "condition", "visibility"):
        value = form[name].value()
        data[name] = "" if value is None else value
    if form["enabled"].value():
        data["enabled"] = "on"
    rows = form.channel_rows
    for name in rows.management_form.fields:
        data[f"{rows.prefix}-{name}"] = rows.management_form[name].value()
    for row in rows.forms:
        for name in row.fields:
            value = row[name].value()
            if isinstance(value, bool) or value is None:
                if value:
                    data[row.add_prefix(name)] = "on"
                continue
            data[row.add_prefix(name)] = value
    return data


def new_definition_data(org, *rows: dict) -> dict:
    data = {
        "org": str(org.pk),
        "name": "whales",
        "condition": json.dumps(big_transfer_condition()),
        "visibility": "org",
        "enabled": "on",
        "channel-TOTAL_FORMS": str(len(rows)),
        "channel-INITIAL_FORMS": "0",
        "channel-MIN_NUM_FORMS": "0",
        "channel-MAX_NUM_FORMS": "1000",
    }
    for number, row in enumerate(rows):
        data.update({f"channel-{number}-{key}": value for key, value in row.items()})
    return data


def row_errors(response) -> list[dict]:
    return [dict(row.errors) for row in response.context["adminform"].form.channel_rows.forms]


@pytest.fixture
def dataset(platform):
    publish(0, 9)


@pytest.fixture
def definition(dataset, org, member, receiver):
    return alert_definition_create(
        org=org,
        user=member,
        name="big",
        condition=big_transfer_condition(),
        channels=[
            {"type": "webhook", "url": receiver.url + "/hook", "secret": SECRET},
            {"type": "email", "to": ["oncall@example.com", "ops@example.com"]},
            {"type": "slack", "webhook_url": receiver.url + "/services/T0/B0/slacksecretpath"},
        ],
    )


def test_the_formset_builds_each_channel_type():
    rows = ChannelFormSet(
        {
            "channel-TOTAL_FORMS": "4",
            "channel-INITIAL_FORMS": "0",
            "channel-0-type": "webhook",
            "channel-0-target": "https://hooks.example.com/a",
            "channel-0-secret": SECRET,
            "channel-1-type": "email",
            "channel-1-target": "a@example.com, b@example.com",
            "channel-2-type": "slack",
            "channel-2-target": "https://hooks.slack.com/services/T/B/X",
            "channel-3-type": "webhook",  # an extra row left empty
        },
        prefix="channel",
    )
    assert rows.is_valid(), rows.errors
    assert rows.channels() == [
        {"type": "webhook", "url": "https://hooks.example.com/a", "secret": SECRET},
        {"type": "email", "to": ["a@example.com", "b@example.com"]},
        {"type": "slack", "webhook_url": "https://hooks.slack.com/services/T/B/X"},
    ]
    assert rows.new_secrets == []  # a pasted secret is the user's: nothing to show


def test_saving_the_page_as_shown_round_trips_every_channel_and_keeps_the_secrets(definition, member, client):
    client.force_login(member)
    page = client.get(change_url(definition))
    text = page.content.decode()
    assert "slacksecretpath" not in text and SECRET[6:] not in text and "whsec_..." in text
    stored = AlertDefinition.objects.get(pk=definition.pk).channels
    data = page_data(page)
    data["name"] = "renamed"
    response = client.post(change_url(definition), data)
    assert response.status_code == 302, row_errors(response)
    definition.refresh_from_db()
    assert definition.name == "renamed" and definition.channels == stored
    # Remove the first row: the others keep their own secrets, matched by the row, not the place.
    data = page_data(client.get(change_url(definition)))
    data["channel-0-DELETE"] = "on"
    data["channel-1-secret"] = ""  # left empty (an email row has none anyway)
    assert client.post(change_url(definition), data).status_code == 302
    definition.refresh_from_db()
    assert definition.channels == stored[1:]


def test_a_new_webhook_gets_a_generated_secret_shown_exactly_once(dataset, org, member, client, receiver):
    client.force_login(member)
    response = client.post(
        ADD_URL, new_definition_data(org, {"type": "webhook", "target": receiver.url + "/hook"}), follow=True
    )
    assert response.status_code == 200 and response.redirect_chain, row_errors(response)
    definition = AlertDefinition.objects.get(name="whales")
    secret = definition.channels[0]["secret"]
    Webhook(secret)  # a valid Standard Webhooks secret
    assert secret.startswith("whsec_") and len(secret) >= len("whsec_") + 32
    shown = NEW_SECRET.findall(response.content.decode())
    assert shown == [secret]
    assert "it will not be shown again" in response.content.decode()
    again = client.get(change_url(definition)).content.decode()
    assert secret not in again and secret[6:] not in again and "whsec_..." + secret[-4:] in again
    # Saved again without retyping it: kept, and nothing shown.
    response = client.post(change_url(definition), page_data(client.get(change_url(definition))), follow=True)
    definition.refresh_from_db()
    assert definition.channels[0]["secret"] == secret
    assert not NEW_SECRET.findall(response.content.decode())
    # Rotated: a new one, shown once, the old one gone.
    data = page_data(client.get(change_url(definition)))
    data["channel-0-rotate_secret"] = "on"
    response = client.post(change_url(definition), data, follow=True)
    definition.refresh_from_db()
    rotated = definition.channels[0]["secret"]
    assert rotated != secret and NEW_SECRET.findall(response.content.decode()) == [rotated]


def test_a_refused_url_names_the_setting_that_allow_lists_it(dataset, org, member, client, settings):
    settings.OUTBOUND_ALLOW = []
    client.force_login(member)
    response = client.post(
        ADD_URL, new_definition_data(org, {"type": "webhook", "target": "http://127.0.0.1:9/hook"})
    )
    assert response.status_code == 200
    target_error = " ".join(row_errors(response)[0]["target"])
    assert "127.0.0.1 is a loopback address" in target_error and "CHAINLAKE_OUTBOUND_ALLOW" in target_error
    assert "CHAINLAKE_OUTBOUND_ALLOW" in response.content.decode()
    assert not AlertDefinition.objects.exists()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"type": "email", "target": "oncall@example.com, not-an-address"},
            "'not-an-address' is not an email",
        ),
        ({"type": "webhook", "target": "ftp://files.example.com/x"}, "an http(s) URL"),
        ({"type": "slack", "target": "hooks.slack.com/services/x"}, "an http(s) URL"),
        ({"type": "webhook", "target": "https://hooks.example.com/", "secret": "plain"}, "whsec_"),
        ({"type": "pager", "target": "x"}, "Select a valid choice"),
    ],
)
def test_bad_input_is_a_field_error_on_the_row(dataset, org, member, client, row, message):
    client.force_login(member)
    response = client.post(ADD_URL, new_definition_data(org, row))
    assert response.status_code == 200
    assert message in json.dumps(row_errors(response)[0])
    assert not AlertDefinition.objects.exists()


def test_a_disabled_channel_shows_why_and_can_be_enabled_again(definition, member, client):
    channels = definition.channels
    channels[1] = {**channels[1], "disabled": True, "disabled_reason": "HTTP 410 Gone from the receiver"}
    AlertDefinition.objects.filter(pk=definition.pk).update(channels=channels)
    client.force_login(member)
    page = client.get(change_url(definition))
    assert "HTTP 410 Gone from the receiver" in page.content.decode()
    data = page_data(page)
    assert data["channel-1-disabled"] == "on"
    assert client.post(change_url(definition), data).status_code == 302  # kept disabled, with its reason
    definition.refresh_from_db()
    assert definition.channels[1]["disabled_reason"] == "HTTP 410 Gone from the receiver"
    del data["channel-1-disabled"]
    assert client.post(change_url(definition), data).status_code == 302
    definition.refresh_from_db()
    assert "disabled" not in definition.channels[1] and "disabled_reason" not in definition.channels[1]


def test_the_test_button_delivers_to_the_channel_now(definition, member, client, receiver):
    client.force_login(member)
    assert channel_test_url(definition, 0) in client.get(change_url(definition)).content.decode()
    response = client.post(channel_test_url(definition, 0), follow=True)
    assert response.status_code == 200
    assert f"Test message delivered to webhook {receiver.url}/hook" in response.content.decode()
    [received] = receiver.at("/hook")
    document = Webhook(SECRET).verify(received.body, received.headers)  # signed like a delivery
    assert document["type"] == "alert.sample" and document["event"]["payload"]["channel_test"] is True
    # Only that channel, and nothing recorded.
    assert receiver.at("/services/T0/B0/slacksecretpath") == [] and mail.outbox == []
    assert not AlertEvent.objects.exists() and not AlertDelivery.objects.exists()
    # The email channel's button sends one mail, marked as a test.
    text = client.post(channel_test_url(definition, 1), follow=True).content.decode()
    assert "Test message delivered to email oncall@example.com, ops@example.com" in text
    [sent] = mail.outbox
    assert sent.to == ["oncall@example.com", "ops@example.com"] and sent.subject.startswith("[TEST]")


def test_the_test_button_shows_the_status_and_start_of_a_failing_answer(definition, member, client, receiver):
    receiver.script(
        "/services/T0/B0/slacksecretpath", Answer(status=500, body=b"invalid_token: no such hook")
    )
    client.force_login(member)
    response = client.post(channel_test_url(definition, 2), follow=True)
    text = response.content.decode()
    assert "Test message to slack http://127.0.0.1/... failed: HTTP 500: invalid_token: no such hook" in text
    assert "slacksecretpath" not in text


def test_the_test_button_shows_a_refusal_with_its_setting(definition, member, client, settings):
    settings.OUTBOUND_ALLOW = []
    client.force_login(member)
    text = client.post(channel_test_url(definition, 0), follow=True).content.decode()
    assert "failed: refused: 127.0.0.1 is a loopback address" in text and "CHAINLAKE_OUTBOUND_ALLOW" in text


def test_the_api_test_route_answers_the_outcome(definition, member, receiver):
    receiver.script("/hook", Answer(status=503, body=b"busy"))
    failed = api(member).post(f"/api/v1/alert-definitions/{definition.pk}/channels/0/test/")
    assert failed.status_code == 200
    assert failed.json()["delivered"] is False and failed.json()["error"] == "HTTP 503: busy"
    assert (failed.json()["http_status"], failed.json()["answer"]) == (503, "busy")
    delivered = api(member).post(f"/api/v1/alert-definitions/{definition.pk}/channels/0/test/")
    assert delivered.json()["delivered"] is True and delivered.json()["type"] == "webhook"
    assert (delivered.json()["http_status"], delivered.json()["answer"]) == (200, "ok")
    assert len(receiver.at("/hook")) == 2
    for index in ("7", "first"):
        missing = api(member).post(f"/api/v1/alert-definitions/{definition.pk}/channels/{index}/test/")
        assert missing.status_code == 404


def test_only_who_may_operate_the_definition_may_test_and_another_org_gets_404(
    definition, org, client, receiver
):
    api_url = f"/api/v1/alert-definitions/{definition.pk}/channels/0/test/"
    stranger = UserFactory(org=OrgFactory(slug="zeta"), role="owner", is_staff=True)
    client.force_login(stranger)
    assert client.post(channel_test_url(definition, 0)).status_code == 404
    assert api(stranger).post(api_url).status_code == 404
    viewer = UserFactory(org=org, role="viewer", is_staff=True)
    client.force_login(viewer)
    assert client.post(channel_test_url(definition, 0)).status_code == 403
    assert api(viewer).post(api_url).status_code == 403
    assert client.get(channel_test_url(definition, 0)).status_code == 405  # a POST only
    assert receiver.at("/hook") == []


def test_the_test_button_checks_csrf(definition, member, receiver):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member)
    assert browser.post(channel_test_url(definition, 0)).status_code == 403
    assert receiver.at("/hook") == []


def test_the_add_page_has_no_operations_and_no_times(dataset, member, client):
    client.force_login(member)
    text = client.get(ADD_URL).content.decode()
    for absent in ("Operations", "Recent events", "Delivery health", "Created at", "Updated at"):
        assert absent not in text, absent
    assert 'name="channel-0-target"' in text and "Add another channel" in text
