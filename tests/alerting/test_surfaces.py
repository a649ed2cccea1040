"""The API and the admin: validation with one error per field, the actions, and who may use them."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from alerting.models import AlertDefinition, AlertDelivery, AlertEvent
from alerting.services import alert_definition_create, alert_definition_test_fire
from testkit.factories import OrgFactory, UserFactory
from tests.alerting.conftest import SECRET, big_transfer_condition, publish

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def attrs(response) -> dict:
    return {e["attr"]: e["detail"] for e in response.json()["errors"]}


@pytest.fixture
def definition(platform, org, member, receiver):
    publish(0, 99)
    return alert_definition_create(
        org=org,
        user=member,
        name="big",
        condition=big_transfer_condition(),
        channels=[{"type": "webhook", "url": receiver.url + "/hook", "secret": SECRET}],
    )


def test_api_create_validates_against_the_catalog_with_an_error_per_field(platform, org, member, settings):
    settings.OUTBOUND_ALLOW = []
    publish(0, 9)
    response = api(member).post(
        "/api/v1/alert-definitions/",
        {
            "name": "bad",
            "condition": {
                "dataset": "evm.transfers",
                "where": {
                    "all": [{"column": "nope", "op": "eq", "value": 1}, {"column": "value", "op": "like"}]
                },
                "severity": "loud",
            },
            "channels": [
                {"type": "webhook", "url": "http://169.254.169.254/", "secret": "plain"},
                {"type": "email", "to": ["not-an-address"]},
            ],
        },
        format="json",
    )
    assert response.status_code == 400
    errors = attrs(response)
    assert "unknown column 'nope'" in errors["condition.where.all[0].column"]
    assert "unknown op 'like'" in errors["condition.where.all[1].op"]
    assert "severity" in " ".join(errors)
    assert "169.254.169.254 is a link-local address" in errors["channels[0].url"]
    assert "whsec_" in errors["channels[0].secret"]
    assert "not an email" in errors["channels[1].to"]
    assert not AlertDefinition.objects.exists()


def test_api_refuses_a_dataset_of_another_org_and_one_without_data(platform, org, member):
    OrgFactory(slug="beta")
    for dataset, message in [("beta.secret", "reads only its own"), ("acme.nothing", "no partitions")]:
        response = api(member).post(
            "/api/v1/alert-definitions/",
            {
                "name": "x",
                "condition": {"dataset": dataset, "where": {"column": "a", "op": "eq", "value": 1}},
            },
            format="json",
        )
        assert response.status_code == 400 and message in attrs(response)["condition.dataset"]


def test_api_create_makes_the_evaluator_and_backtest_reports_without_creating(definition, member):
    from orchestration.models import Job

    client = api(member)
    response = client.post(
        "/api/v1/alert-definitions/",
        {"name": "second", "condition": big_transfer_condition(), "enabled": False},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Job.objects.filter(org=definition.org, operator="alert_evaluator", active=True).count() == 1
    response = client.post(
        f"/api/v1/alert-definitions/{definition.pk}/backtest/",
        {"first_partition": "blocks_00000000"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["events"] == 10
    assert not AlertEvent.objects.exists()


def test_actions_follow_one_rule_for_who_may_change_the_definition(definition, org, member):
    viewer = UserFactory(org=org, role="viewer")
    other_member = UserFactory(org=org, role="member")
    admin = UserFactory(org=org, role="admin")
    stranger = UserFactory(org=OrgFactory(slug="zeta"), role="owner")
    base = f"/api/v1/alert-definitions/{definition.pk}"
    # Reading (backtest) is for whoever sees the definition; another org gets a 404.
    assert api(viewer).post(f"{base}/backtest/", {}, format="json").status_code == 200
    assert api(stranger).post(f"{base}/backtest/", {}, format="json").status_code == 404
    for action in ("test-fire", "silence", "disable", "enable"):
        body = {"until": None} if action == "silence" else {}
        assert api(viewer).post(f"{base}/{action}/", body, format="json").status_code == 403
        assert api(other_member).post(f"{base}/{action}/", body, format="json").status_code == 403
        assert api(stranger).post(f"{base}/{action}/", body, format="json").status_code == 404
    assert api(member).post(f"{base}/disable/", {}, format="json").json()["enabled"] is False
    assert api(admin).post(f"{base}/enable/", {}, format="json").json()["enabled"] is True
    response = api(member).post(f"{base}/silence/", {"until": "2030-01-01T00:00:00Z"}, format="json")
    assert response.json()["condition"]["silenced_until"].startswith("2030-01-01")
    assert api(member).post(f"{base}/silence/", {"until": "soon"}, format="json").status_code == 400
    response = api(member).post(f"{base}/test-fire/", {}, format="json")
    assert response.status_code == 201 and response.json()["payload"]["kind"] == "sample"
    delivery = AlertDelivery.objects.get(alert_event_id=response.json()["id"])
    assert api(viewer).post(f"/api/v1/alert-deliveries/{delivery.pk}/redeliver/").status_code == 403
    assert api(stranger).post(f"/api/v1/alert-deliveries/{delivery.pk}/redeliver/").status_code == 404
    AlertDelivery.objects.filter(pk=delivery.pk).update(status="dead", attempt=8)
    response = api(member).post(f"/api/v1/alert-deliveries/{delivery.pk}/redeliver/")
    assert (
        response.status_code == 200
        and response.json()["status"] == "pending"
        and response.json()["attempt"] == 0
    )


def test_admin_definition_page_and_operations(definition, member, client):
    client.force_login(member)
    event = alert_definition_test_fire(definition=definition, user=definition.user)
    page = client.get(reverse("admin:alerting_alertdefinition_change", args=[definition.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Backtest over past partitions" in text and str(event.pk) in text and "webhook" in text
    backtest = reverse("admin:alerting_alertdefinition_backtest", args=[definition.pk])
    response = client.post(backtest, {"first": "blocks_00000000", "last": "blocks_00000000"})
    assert (
        response.status_code == 200
        and '<strong id="backtest-events">10</strong>' in response.content.decode()
    )
    assert client.post(backtest, {"first": "b", "last": "a"}).status_code == 200  # a form error, not a 500
    toggle = reverse("admin:alerting_alertdefinition_toggle", args=[definition.pk])
    assert client.post(toggle).status_code == 302
    definition.refresh_from_db()
    assert definition.enabled is False
    event_page = client.get(reverse("admin:alerting_alertevent_change", args=[event.pk]))
    assert event_page.status_code == 200 and "pending" in event_page.content.decode()
    index = client.get(reverse("admin:app_list", args=["alerting"]))
    assert index.status_code == 200 and "alert-delivery-counts" in index.content.decode()
    assert (
        client.get(reverse("admin:alerting_alertdefinition_backtest", args=["not-a-uuid"])).status_code == 404
    )


def test_admin_operations_are_refused_to_those_who_may_not_change(definition, org, client):
    viewer = UserFactory(org=org, role="viewer", is_staff=True)
    client.force_login(viewer)
    for name in ("test_fire", "silence", "toggle"):
        url = reverse(f"admin:alerting_alertdefinition_{name}", args=[definition.pk])
        assert client.post(url).status_code == 403
    assert AlertDefinition.objects.get(pk=definition.pk).enabled is True
    stranger = UserFactory(org=OrgFactory(slug="zeta"), role="owner", is_staff=True)
    client.force_login(stranger)
    url = reverse("admin:alerting_alertdefinition_backtest", args=[definition.pk])
    assert client.get(url).status_code == 404


def test_admin_form_shows_condition_errors_on_the_field(definition, member, client):
    client.force_login(member)
    url = reverse("admin:alerting_alertdefinition_change", args=[definition.pk])
    response = client.post(
        url,
        {
            "org": str(definition.org_id),
            "name": "big",
            "condition": '{"dataset": "evm.transfers", "where": {"column": "zzz", "op": "eq", "value": 1}}',
            "channel-TOTAL_FORMS": "0",
            "channel-INITIAL_FORMS": "0",
            "visibility": "org",
            "enabled": "on",
        },
    )
    assert response.status_code == 200
    assert "where.column: unknown column" in response.content.decode()
