"""/healthz, /readyz, /metrics and the log lines, on the real database."""

import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from orchestration.models import Task
from orchestration.schedules import TICK_NAME
from platform_site.logging import JsonFormatter, log_task_transition
from testkit.factories import (
    AlertDeliveryFactory,
    JobFactory,
    OrgFactory,
    PartitionVersionFactory,
    QueryResultFactory,
    TaskFactory,
    UserFactory,
    platform_org_for_tests,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def lake(settings, tmp_path):
    settings.STORAGE_URL = (tmp_path / "lake").as_uri()
    (tmp_path / "lake").mkdir()
    return tmp_path / "lake"


def tick_seen(ago: timedelta) -> None:
    Schedule.objects.filter(name=TICK_NAME).update(task="some-task-id", next_run=timezone.now() - ago)


def test_healthz_answers_anonymous_callers(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_is_ok_when_everything_answers_and_a_cluster_ran_the_tick(client, lake):
    tick_seen(timedelta(seconds=-30))  # next run in 30 s: the tick ran half a minute ago
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "broker": "ok", "storage": "ok", "workers": "ok"}


def test_readyz_names_what_is_missing(client, lake, settings):
    tick_seen(timedelta(minutes=10))  # no cluster's scheduler for ten minutes
    blocker = lake / "a-file"
    blocker.write_text("not a folder")
    settings.STORAGE_URL = (blocker / "lake").as_uri()  # the lake cannot be reached
    response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks == {"database": "ok", "broker": "ok", "storage": "failed", "workers": "failed"}


def test_readyz_sees_a_broken_redis_broker(client, lake, settings):
    tick_seen(timedelta(seconds=-30))
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["broker"] == "failed"


def metric_lines(text: str, name: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            labels, value = line.rsplit(" ", 1)
            found[labels] = float(value)
    return found


def test_metrics_are_computed_from_the_tables(client, settings):
    settings.METRICS_TOKEN = ""
    org = OrgFactory(slug="acme")
    job = JobFactory(org=org, name="copy")
    TaskFactory.create_batch(3, job=job, status=Task.Status.PENDING)
    TaskFactory(job=job, status=Task.Status.RUNNING)
    old = TaskFactory(job=job, status=Task.Status.PENDING)
    Task.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(seconds=120))
    started = TaskFactory(job=job, status=Task.Status.SUCCEEDED, attempts=1)
    Task.objects.filter(pk=started.pk).update(
        created_at=timezone.now() - timedelta(seconds=2), started_at=timezone.now() - timedelta(seconds=1)
    )
    TaskFactory(job=job, status=Task.Status.FAILED, attempts=3, error_message="reaped: no heartbeat")
    PartitionVersionFactory.create_batch(2, dataset="acme.copy", bytes=1500)
    AlertDeliveryFactory(org=org, status="dead")
    AlertDeliveryFactory(org=org, status="pending")
    QueryResultFactory(org=org, mode="sync", status="failed", error_code="timeout", duration_ms=2500)

    client.force_login(UserFactory(is_superuser=True, is_staff=True))  # a superuser sees every name
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 200
    text = response.content.decode()
    tasks = metric_lines(text, "chainlake_tasks")
    assert tasks['chainlake_tasks{job="acme/copy",status="pending"}'] == 4
    assert tasks['chainlake_tasks{job="acme/copy",status="running"}'] == 1
    assert tasks['chainlake_tasks{job="acme/copy",status="failed"}'] == 1
    assert (
        119
        < metric_lines(text, "chainlake_oldest_due_task_age_seconds")["chainlake_oldest_due_task_age_seconds"]
        < 600
    )
    latency = metric_lines(text, "chainlake_task_pending_to_running_seconds")
    assert latency['chainlake_task_pending_to_running_seconds{quantile="0.5"}'] == pytest.approx(1, abs=0.01)
    assert metric_lines(text, "chainlake_task_retries_recent") == {
        'chainlake_task_retries_recent{job="acme/copy"}': 2
    }
    assert metric_lines(text, "chainlake_tasks_reaped_recent") == {
        'chainlake_tasks_reaped_recent{job="acme/copy"}': 1
    }
    assert metric_lines(text, "chainlake_lake_partitions") == {
        'chainlake_lake_partitions{dataset="acme.copy"}': 2
    }
    assert metric_lines(text, "chainlake_lake_bytes") == {'chainlake_lake_bytes{dataset="acme.copy"}': 3000}
    deliveries = metric_lines(text, "chainlake_alert_deliveries")
    assert deliveries['chainlake_alert_deliveries{state="dead"}'] == 1
    assert deliveries['chainlake_alert_deliveries{state="due"}'] == 1
    queries = metric_lines(text, "chainlake_query_duration_seconds")
    assert queries['chainlake_query_duration_seconds{error_code="timeout",mode="sync",quantile="0.5"}'] == 2.5
    assert "chainlake_planning_seconds_bucket" in text and "chainlake_reaper_actions_total" in text


def test_metrics_are_not_public(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404
    client.force_login(UserFactory(is_staff=True, role="admin"))
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 404
    settings.METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404  # the token rules
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200


def org_and_platform_work():
    """Tasks and partitions of a tenant (acme) and of the platform org (platform, evm datasets)."""
    acme = JobFactory(org=OrgFactory(slug="acme"), name="secret_strategy")
    TaskFactory.create_batch(2, job=acme, status=Task.Status.PENDING)
    TaskFactory(job=acme, status=Task.Status.FAILED, attempts=2)
    ingest = JobFactory(org=platform_org_for_tests(), name="ingest_blocks")
    TaskFactory(job=ingest, status=Task.Status.PENDING)
    PartitionVersionFactory(dataset="acme.secret_positions", bytes=10)
    PartitionVersionFactory(dataset="bravo.other_secret", bytes=5)
    PartitionVersionFactory(dataset="evm.blocks", bytes=100)


def test_a_forged_forwarded_for_from_afar_is_refused(client, settings):
    settings.METRICS_TOKEN = ""
    for header in ("HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP", "HTTP_FORWARDED"):
        response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", **{header: "127.0.0.1"})
        assert response.status_code == 404, header


def test_a_request_through_a_proxy_on_this_host_is_not_a_local_scraper(client, settings):
    # A same-host proxy connects from loopback for everyone; it says so with X-Forwarded-For.
    settings.METRICS_TOKEN = ""
    forwarded = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert forwarded.status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="::1", HTTP_FORWARDED="for=127.0.0.1").status_code == 404
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::ffff:127.0.0.1").status_code == 200


@pytest.mark.parametrize("scraper", ["loopback", "token"])
def test_scrapers_see_the_platform_without_tenant_names(client, settings, scraper):
    org_and_platform_work()
    if scraper == "token":
        settings.METRICS_TOKEN = "scrape-secret"
        response = client.get(
            "/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer scrape-secret"
        )
    else:
        settings.METRICS_TOKEN = ""
        response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    text = response.content.decode()
    assert "acme" not in text and "secret" not in text and "bravo" not in text
    tasks = metric_lines(text, "chainlake_tasks")
    assert tasks['chainlake_tasks{job="other",status="pending"}'] == 2  # summed, not named
    assert tasks['chainlake_tasks{job="platform/ingest_blocks",status="pending"}'] == 1
    assert metric_lines(text, "chainlake_lake_bytes") == {
        'chainlake_lake_bytes{dataset="evm.blocks"}': 100,
        'chainlake_lake_bytes{dataset="other"}': 15,
    }


def test_a_superuser_sees_every_name(client, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    org_and_platform_work()
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    text = client.get("/metrics", REMOTE_ADDR="203.0.113.9").content.decode()
    assert 'chainlake_tasks{job="acme/secret_strategy",status="pending"} 2.0' in text
    assert 'chainlake_lake_bytes{dataset="acme.secret_positions"} 10.0' in text


def test_a_task_transition_is_one_line_with_its_ids(caplog):
    task = TaskFactory(status=Task.Status.RUNNING, worker_id="host:1:abc", attempts=2)
    with caplog.at_level(logging.INFO, logger="chainlake.tasks"):
        log_task_transition(task, to="succeeded")
    (record,) = [r for r in caplog.records if r.name == "chainlake.tasks"]
    line = json.loads(JsonFormatter().format(record))
    assert line["task_id"] == str(task.id) and line["job_id"] == str(task.job_id)
    assert line["org_id"] == str(task.job.org_id) and line["worker_id"] == "host:1:abc"
    assert (line["status"], line["attempt"], line["level"]) == ("succeeded", 2, "INFO")


def test_the_engine_logs_its_transitions(caplog, settings, tmp_path):
    from orchestration import services

    settings.TASK_RETRY_BASE_SECONDS = 0
    task = TaskFactory(status=Task.Status.QUEUED, job__max_attempts=2)
    lease = services.task_claim(task_id=task.id, worker_id="w1")
    with caplog.at_level(logging.INFO, logger="chainlake.tasks"):
        services.task_fail(lease=lease, error="boom")
    (record,) = [r for r in caplog.records if getattr(r, "event", None) == "task_transition"]
    assert (record.task_id, record.status, record.org_id) == (str(task.id), "pending", str(task.job.org_id))


def test_a_request_is_one_line_with_who_asked(client, caplog):
    user = UserFactory(is_staff=True, role="admin")
    client.force_login(user)
    with caplog.at_level(logging.INFO, logger="chainlake.requests"):
        client.get("/healthz")
    (record,) = [r for r in caplog.records if r.name == "chainlake.requests"]
    assert (record.method, record.path, record.status) == ("GET", "/healthz", 200)
    assert (record.user_id, record.org_id) == (user.pk, str(user.org_id))
