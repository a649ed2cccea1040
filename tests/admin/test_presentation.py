"""How the admin reads: job health in the list, the job page's buttons and DAG, the DAG page, short
linked ids, times in the org's time zone, the form widgets, and the API docs."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from orchestration.models import Job
from testkit.factories import JobFactory, TaskFactory, TaskInputFactory

pytestmark = pytest.mark.django_db


def job_row(response, job):
    return next(row for row in response.context["cl"].result_list if row.pk == job.pk)


def test_job_list_shows_state_last_success_counts_and_lag(staff_client, org_a):
    now = timezone.now()
    healthy = JobFactory(org=org_a, name="healthy")
    TaskFactory(job=healthy, status="failed", created_at=now - dt.timedelta(hours=2))
    TaskFactory(job=healthy, status="succeeded", completed_at=now, created_at=now - dt.timedelta(hours=1))
    TaskFactory(job=healthy, status="running")
    failing = JobFactory(org=org_a, name="failing")
    TaskFactory(job=failing, status="succeeded", created_at=now - dt.timedelta(hours=3))
    TaskFactory(job=failing, status="failed", created_at=now - dt.timedelta(hours=1))
    TaskFactory(job=failing, status="failed", created_at=now - dt.timedelta(days=2))  # outside 24 h
    TaskFactory(job=failing, status="pending", created_at=now - dt.timedelta(minutes=10))
    paused = JobFactory(org=org_a, name="paused", active=False)

    response = staff_client.get(reverse("admin:orchestration_job_changelist"))
    page = response.content.decode()
    admin_class = response.context["cl"].model_admin

    assert 'cl-badge--failing">failing' in page and 'cl-badge--paused">paused' in page
    row = job_row(response, healthy)
    assert admin_class.state(row) == '<span class="cl-badge cl-badge--active">active</span>'
    assert (row.running_count, row.failed_count) == (1, 1)
    assert row.last_success_at == now
    row = job_row(response, failing)
    assert row.failed_count == 1 and re.fullmatch(r"10 m( \d+ s)?", admin_class.lag(row))
    assert "paused" in admin_class.state(job_row(response, paused))


def test_job_page_buttons_run_the_changelist_actions_on_one_job(staff_client, org_a, org_b):
    job = JobFactory(org=org_a, activation="manual")
    other = JobFactory(org=org_b)
    page = staff_client.get(reverse("admin:orchestration_job_change", args=[job.pk])).content.decode()
    for action in ("run_now", "pause"):
        assert f'data-action="{action}"' in page
    assert 'data-action="resume"' not in page  # the job is active

    pause = reverse("admin:orchestration_job_action", args=[job.pk, "pause"])
    assert staff_client.get(pause).status_code == 405
    assert staff_client.post(pause).status_code == 302
    job.refresh_from_db()
    assert not job.active
    assert (
        staff_client.post(
            reverse("admin:orchestration_job_action", args=[job.pk, "delete_selected"])
        ).status_code
        == 403
    )
    # Another org's job is missing, not forbidden, and stays untouched.
    assert (
        staff_client.post(reverse("admin:orchestration_job_action", args=[other.pk, "pause"])).status_code
        == 404
    )
    other.refresh_from_db()
    assert other.active


def test_dag_page_and_job_graph_draw_only_the_viewers_jobs(staff_client, superuser, org_a, org_b):
    producer = JobFactory(org=org_a, name="producer", dag_name="shared", output_datasets=["alpha.raw"])
    consumer = JobFactory(
        org=org_a, name="consumer", dag_name="shared", input_datasets=["alpha.raw", "evm.blocks"]
    )
    JobFactory(org=org_b, name="bravo_hidden", dag_name="shared", input_datasets=["alpha.raw"])
    TaskFactory(job=producer, status="failed")

    dags = staff_client.get(reverse("admin:orchestration_dags")).content.decode()
    assert "producer" in dags and "consumer" in dags and "bravo_hidden" not in dags
    assert "cl-node--failing" in dags  # the producer's newest finished task failed
    assert "evm.blocks" in dags  # an input no drawn job produces is a dataset node
    superuser_client = Client()
    superuser_client.force_login(superuser)
    assert "bravo_hidden" in superuser_client.get(reverse("admin:orchestration_dags")).content.decode()

    page = staff_client.get(reverse("admin:orchestration_job_change", args=[consumer.pk])).content.decode()
    graph = page[page.index('<div class="cl-dag">') :]
    graph = graph[: graph.index("</svg>")]
    assert "producer" in graph and "bravo_hidden" not in graph
    assert reverse("admin:orchestration_job_change", args=[producer.pk]) in graph

    # The producer's page draws every reader of its output, another org's without its name.
    page = staff_client.get(reverse("admin:orchestration_job_change", args=[producer.pk])).content.decode()
    graph = page[page.index('<div class="cl-dag">') :]
    graph = graph[: graph.index("</svg>")]
    assert "consumer" in graph and "another org&#x27;s job" in graph and "bravo_hidden" not in graph
    producer_page = reverse("admin:orchestration_job_change", args=[producer.pk])
    page = superuser_client.get(producer_page).content.decode()
    graph = page[page.index('<div class="cl-dag">') :]
    assert "bravo_hidden" in graph[: graph.index("</svg>")]


def test_ids_are_short_and_linked_and_times_read_in_the_orgs_zone(staff_client, org_a):
    org_a.settings = {"timezone": "Asia/Tokyo"}
    org_a.save()
    job = JobFactory(org=org_a)
    task = TaskFactory(job=job, status="succeeded", started_at=timezone.now())
    TaskInputFactory(task=task)

    tasks = staff_client.get(reverse("admin:orchestration_task_changelist")).content.decode()
    assert f'title="{task.pk}">…{str(task.pk)[-8:]}' in tasks
    assert "+09:00" in tasks  # the full time on hover is in the org's zone
    assert f">{task.pk}<" not in tasks  # never shown whole

    records = staff_client.get(reverse("admin:orchestration_taskinput_records")).content.decode()
    change = reverse("admin:orchestration_task_change", args=[task.pk])
    assert f'<a class="cl-short" href="{change}" title="{task.pk}">…{str(task.pk)[-8:]}</a>' in records


def test_job_form_has_short_inputs_a_json_editor_and_field_errors_under_the_field(admin_client, org_a):
    job = JobFactory(org=org_a, config={"schedule": "* * * * *"})
    url = reverse("admin:orchestration_job_change", args=[job.pk])
    page = admin_client.get(url).content.decode()
    assert '<input type="text" name="name"' in page
    assert '<input type="text" name="dag_name"' in page
    assert 'name="config"' in page and "data-json-editor" in page
    assert "{\n  &quot;schedule&quot;: &quot;* * * * *&quot;\n}" in page  # pretty-printed
    assert "Short name, unique in the org" in page  # help text from the product's vocabulary

    form = admin_client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(config="{not json", source='{"sql": "select 1"}', scaling="{}", active="on")
    data["input_datasets"] = ",".join(job.input_datasets)
    data["output_datasets"] = ",".join(job.output_datasets)
    data["unique_key"] = ""
    response = admin_client.post(url, data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["config"] == ["Enter a valid JSON."]
    assert "{not json" in response.content.decode()  # shown back as typed, to be fixed
    job.refresh_from_db()
    assert job.config == {"schedule": "* * * * *"}


def test_api_docs_group_operations_by_resource_with_summaries(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operations = [op for path in schema["paths"].values() for op in path.values()]
    assert all(op.get("summary") for op in operations)
    assert all(op["tags"] != ["v1"] for op in operations)
    jobs = schema["paths"]["/api/v1/jobs/"]
    assert jobs["get"]["tags"] == ["jobs"] and jobs["get"]["summary"] == "List jobs"
    assert jobs["post"]["summary"] == "Create a job"
    assert "example" in jobs["post"]["requestBody"]["content"]["application/json"]["examples"]
    assert {"name": "jobs", "description": schema["tags"][0]["description"]} != {}
    assert "jobs" in {tag["name"] for tag in schema["tags"]}


def test_redoc_uses_no_outside_font_server_and_root_leads_to_the_admin(client):
    redoc = client.get("/api/schema/redoc/").content.decode()
    assert "fonts.googleapis" not in redoc and "fonts.gstatic" not in redoc
    assert "redoc_offline.js" in redoc
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_job_state_is_failing_only_while_the_newest_finished_task_failed(db, org_a):
    from orchestration.selectors.health import job_state, with_health

    job = JobFactory(org=org_a)
    now = timezone.now()
    TaskFactory(job=job, status="failed", created_at=now - dt.timedelta(minutes=2))
    assert job_state(with_health(Job.objects.filter(pk=job.pk)).get()) == "failing"
    TaskFactory(job=job, status="succeeded", created_at=now - dt.timedelta(minutes=1))
    assert job_state(with_health(Job.objects.filter(pk=job.pk)).get()) == "active"
