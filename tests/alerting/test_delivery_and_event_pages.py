"""The delivery page shows every attempt with the receiver's status and the first bytes of its answer
(as text), offers Redeliver to whoever may operate the definition; the event page links its
definition, producer job and task when the viewer may read them."""

import pytest
from django.test import Client
from django.urls import reverse

from alerting.models import AlertDelivery
from alerting.services import alert_definition_create, alert_definition_test_fire, deliveries_process
from platform_site.record_logs import DELIVERIES, record_log_path
from platform_site.retention import retention_prune
from testkit.factories import (
    AlertEventFactory,
    JobFactory,
    OrgFactory,
    TaskFactory,
    UserFactory,
)
from tests.alerting.conftest import SECRET, big_transfer_condition, publish
from tests.alerting.receiver import Answer

pytestmark = pytest.mark.django_db

HOSTILE = b"<script>alert('x')</script> try later"


@pytest.fixture(autouse=True)
def logs_dir(settings, tmp_path):
    settings.RECORD_LOG_DIR = tmp_path / "logs"
    settings.ALERT_RETRY_SCALE = 0  # the retry after a failed attempt is due at once
    return settings.RECORD_LOG_DIR


@pytest.fixture
def definition(org, member, receiver):
    publish(0, 9)
    return alert_definition_create(
        org=org,
        user=member,
        name="big",
        condition=big_transfer_condition(),
        channels=[{"type": "webhook", "url": receiver.url + "/hook", "secret": SECRET}],
    )


@pytest.fixture
def delivered(platform, definition, receiver) -> AlertDelivery:
    """Sent twice to a real receiver: a 500 with a hostile body, then a 200 with a body."""
    receiver.scripts["/hook"] = [
        Answer(status=500, body=HOSTILE),
        Answer(status=200, body=b'{"accepted": true, "id": "rcv-42"}'),
    ]
    event = alert_definition_test_fire(definition=definition, user=definition.user)
    deliveries_process(limit=None)
    delivery = AlertDelivery.objects.get(alert_event=event)
    assert delivery.status == "delivered" and delivery.attempt == 2
    return delivery


def delivery_page(client, delivery):
    return client.get(reverse("admin:alerting_alertdelivery_change", args=[delivery.pk]))


def test_the_delivery_page_shows_each_attempt_with_the_receivers_answer_as_text(delivered, member, client):
    client.force_login(member)
    response = delivery_page(client, delivered)
    assert response.status_code == 200
    page = response.content.decode()
    attempts = page[page.index("Attempts (newest last)") :]
    assert attempts.index(">500<") < attempts.index(">200<")  # oldest first
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; try later" in attempts
    assert "<script>alert(" not in page
    assert "{&quot;accepted&quot;: true, &quot;id&quot;: &quot;rcv-42&quot;}" in attempts
    assert "HTTP 500: &lt;script&gt;" in attempts  # the failed attempt's error
    assert "delivered" in attempts and "failed" in attempts
    event_url = reverse("admin:alerting_alertevent_change", args=[delivered.alert_event_id])
    assert f'<a href="{event_url}">' in page[: page.index("Attempts (newest last)")]  # its event, a link
    listing = client.get(reverse("admin:alerting_alertdelivery_changelist")).content.decode()
    assert f'<a href="{event_url}">' in listing


def test_the_answer_kept_is_the_first_bytes_only(platform, definition, receiver, member, client):
    receiver.scripts["/hook"] = [Answer(status=200, body=b"A" * 250 + b"B" * 1000)]
    event = alert_definition_test_fire(definition=definition, user=definition.user)
    deliveries_process(limit=None)
    delivery = AlertDelivery.objects.get(alert_event=event)
    client.force_login(member)
    page = delivery_page(client, delivery).content.decode()
    assert "A" * 250 + "B" * 50 + "<" in page and "B" * 51 not in page


def test_redeliver_button_queues_again_for_who_may_operate_only(delivered, org, member, client):
    redeliver = reverse("admin:alerting_alertdelivery_redeliver", args=[delivered.pk])
    viewer = UserFactory(org=org, role="viewer", is_staff=True)
    client.force_login(viewer)
    page = delivery_page(client, delivered)
    assert page.status_code == 200 and redeliver not in page.content.decode()
    assert client.post(redeliver).status_code == 403
    assert client.get(redeliver).status_code == 403
    assert AlertDelivery.objects.get(pk=delivered.pk).status == "delivered"

    stranger = UserFactory(org=OrgFactory(slug="zeta"), role="owner", is_staff=True)
    client.force_login(stranger)
    assert delivery_page(client, delivered).status_code == 404
    assert client.post(redeliver).status_code == 404
    assert client.post(reverse("admin:alerting_alertdelivery_redeliver", args=["junk"])).status_code == 404

    client.force_login(member)
    assert redeliver in delivery_page(client, delivered).content.decode()
    confirm = client.get(redeliver)
    assert confirm.status_code == 200 and 'id="redeliver-form"' in confirm.content.decode()
    assert AlertDelivery.objects.get(pk=delivered.pk).status == "delivered"  # a GET changes nothing
    response = client.post(redeliver)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:alerting_alertdelivery_change", args=[delivered.pk])
    again = AlertDelivery.objects.get(pk=delivered.pk)
    assert again.status == "pending" and again.attempt == 0
    # The list's action is still there.
    changelist = client.get(reverse("admin:alerting_alertdelivery_changelist")).content.decode()
    assert 'value="redeliver"' in changelist


def test_redeliver_needs_the_csrf_token(delivered, member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    redeliver = reverse("admin:alerting_alertdelivery_redeliver", args=[delivered.pk])
    assert client.post(redeliver).status_code == 403
    assert AlertDelivery.objects.get(pk=delivered.pk).status == "delivered"


def test_retention_removes_the_attempts_of_pruned_deliveries(delivered, settings):
    path = record_log_path(DELIVERIES, delivered.pk)
    assert path.exists()
    AlertDelivery.objects.filter(pk=delivered.pk).update(created_at="2000-01-01T00:00:00Z")
    retention_prune()
    assert not AlertDelivery.objects.filter(pk=delivered.pk).exists()
    assert not path.exists()


def test_the_event_page_links_what_the_viewer_may_read(org, member, client):
    own_job = JobFactory(org=org, name="producer")
    own_task = TaskFactory(job=own_job)
    private = AlertEventFactory(
        org=org,
        alert_definition__user=UserFactory(org=org, role="member"),
        alert_definition__visibility="private",
        alert_definition__name="someone's private alert",
        producer_job=own_job,
        producer_task=own_task,
    )
    foreign_job = JobFactory(org=OrgFactory(slug="zeta"), name="secret-producer")
    mine = AlertEventFactory(
        org=org,
        alert_definition__user=member,
        alert_definition__name="my alert",
        producer_job=foreign_job,
        producer_task=TaskFactory(job=foreign_job),
    )
    client.force_login(member)

    page = client.get(reverse("admin:alerting_alertevent_change", args=[mine.pk])).content.decode()
    definition_url = reverse("admin:alerting_alertdefinition_change", args=[mine.alert_definition_id])
    assert f'<a href="{definition_url}">my alert</a>' in page
    assert reverse("admin:orchestration_job_change", args=[foreign_job.pk]) not in page
    assert "secret-producer" not in page and str(foreign_job.pk) in page
    assert reverse("admin:orchestration_task_change", args=[mine.producer_task_id]) not in page

    page = client.get(reverse("admin:alerting_alertevent_change", args=[private.pk])).content.decode()
    hidden_url = reverse("admin:alerting_alertdefinition_change", args=[private.alert_definition_id])
    assert "someone&#x27;s private alert" in page and hidden_url not in page
    assert f'<a href="{reverse("admin:orchestration_job_change", args=[own_job.pk])}">' in page
    assert reverse("admin:orchestration_task_change", args=[own_task.pk]) in page

    listing = client.get(reverse("admin:alerting_alertevent_changelist")).content.decode()
    assert definition_url in listing and hidden_url not in listing
    assert reverse("admin:orchestration_job_change", args=[own_job.pk]) in listing
    assert reverse("admin:orchestration_job_change", args=[foreign_job.pk]) not in listing
    assert "secret-producer" not in listing
