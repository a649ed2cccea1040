"""Who may operate the engine, as a matrix: role, operation and surface (admin action, API).

``orgs.policy`` decides once; the admin's actions (and the backfill page) and the API's action
endpoints must both follow it: org admins, owners and superusers operate their org's jobs and tasks;
viewers and members do not (the admin does not even offer them the action), unless an object
permission grants them ``change`` on the job.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from orchestration.models import Job, Task
from orgs import policy
from orgs.policy import Operation
from testkit.factories import OrgFactory, TaskFactory, UserFactory, sql_job

ROLES = ["viewer", "member", "admin", "owner", "superuser"]
ALLOWED = {"admin", "owner", "superuser"}
OPERATIONS = ["run", "pause", "resume", "backfill", "retry", "cancel"]
ADMIN_ACTION = {"run": "run_now", "pause": "pause", "resume": "resume", "retry": "retry", "cancel": "cancel"}


@pytest.fixture(autouse=True)
def _lake(settings, tmp_path):
    settings.STORAGE_URL = (tmp_path / "lake").as_uri()


@pytest.fixture
def org(db):
    return OrgFactory(slug="alpha")


@pytest.fixture
def job(org):
    # A full job: "run now" and a backfill each create exactly one task.
    return sql_job(org, "stats", "SELECT 1 AS one", [], "alpha.stats", execution_strategy="full")


def actor(role: str, org) -> object:
    if role == "superuser":
        return UserFactory(org=org, role="owner", is_staff=True, is_superuser=True)
    return UserFactory(org=org, role=role, is_staff=True)


def prepare(operation: str, job: Job) -> Task | None:
    """The state each operation starts from; returns the task it acts on, if any."""
    if operation == "resume":
        Job.objects.filter(pk=job.pk).update(active=False)
    if operation == "retry":
        return TaskFactory(job=job, status="failed", attempts=3)
    if operation == "cancel":
        return TaskFactory(job=job, status="pending")
    return None


def happened(operation: str, job: Job, task: Task | None, tasks_before: int) -> bool:
    job.refresh_from_db()
    if operation == "pause":
        return not job.active
    if operation == "resume":
        return job.active
    if operation in ("run", "backfill"):
        return Task.objects.filter(job=job).count() > tasks_before
    task.refresh_from_db()
    if operation == "retry":
        return task.status in ("pending", "queued") and task.attempts == 0  # dispatched at once
    return task.status == "cancelled"


def through_admin(user, operation: str, job: Job, task: Task | None):
    client = Client(raise_request_exception=False)
    client.force_login(user)
    if operation == "backfill":
        url = reverse("admin:orchestration_job_backfill", args=[job.pk])
        return client.post(url, {"partitions": "all"})
    target = task if task is not None else job
    changelist = reverse(f"admin:orchestration_{target._meta.model_name}_changelist")
    data = {"action": ADMIN_ACTION[operation], "_selected_action": [str(target.pk)], "index": "0"}
    return client.post(changelist, data)


def through_api(user, operation: str, job: Job, task: Task | None):
    client = APIClient()
    client.force_authenticate(user)
    if task is not None:
        return client.post(f"/api/v1/tasks/{task.pk}/{operation}/", {}, format="json")
    body = {"all": True} if operation == "backfill" else {}
    return client.post(f"/api/v1/jobs/{job.pk}/{operation}/", body, format="json")


@pytest.mark.django_db
@pytest.mark.parametrize("surface", ["admin", "api"])
@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("role", ROLES)
def test_role_operation_surface_matrix(role, operation, surface, org, job):
    user = actor(role, org)
    task = prepare(operation, job)
    before = Task.objects.filter(job=job).count()
    response = (through_admin if surface == "admin" else through_api)(user, operation, job, task)
    assert response.status_code < 500
    allowed = role in ALLOWED
    assert happened(operation, job, task, before) is allowed, (role, operation, surface)
    assert policy.may_operate(user, operation) is allowed
    if surface == "api":
        assert response.status_code == (200 if allowed else 403), response.content
    elif operation == "backfill":
        assert response.status_code == (302 if allowed else 403)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_the_admin_offers_only_the_actions_the_role_may_run(role, org, job):
    user = actor(role, org)
    client = Client()
    client.force_login(user)
    for model, names in ((Job, ["run_now", "pause", "resume"]), (Task, ["retry", "cancel"])):
        request = client.get(reverse(f"admin:orchestration_{model._meta.model_name}_changelist")).wsgi_request
        offered = set(admin.site._registry[model].get_actions(request))
        assert (set(names) <= offered) is (role in ALLOWED), (role, model, offered)
        if role not in ALLOWED:
            assert not set(names) & offered


@pytest.mark.django_db
@pytest.mark.parametrize("surface", ["admin", "api"])
def test_a_change_grant_on_one_job_lets_a_member_operate_that_job_only(surface, org, job):
    member = actor("member", org)
    other = sql_job(org, "other", "SELECT 2 AS two", [], "alpha.other", execution_strategy="full")
    assign_perm("orchestration.change_job", member, job)
    assert policy.may_operate(member, Operation.JOB_PAUSE)
    for target, expected in ((job, True), (other, False)):
        response = (through_admin if surface == "admin" else through_api)(member, "pause", target, None)
        assert response.status_code < 500
        target.refresh_from_db()
        assert (not target.active) is expected, (surface, target.name)


@pytest.mark.django_db
def test_another_orgs_job_is_a_404_to_the_api_and_untouched_by_the_admin(org, job):
    intruder = actor("owner", OrgFactory(slug="bravo"))
    assert through_api(intruder, "pause", job, None).status_code == 404
    through_admin(intruder, "pause", job, None)
    assert through_admin(intruder, "backfill", job, None).status_code == 404
    job.refresh_from_db()
    assert job.active


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_pausing_by_editing_the_job_asks_the_same_rule(role, org, job):
    client = APIClient()
    client.force_authenticate(actor(role, org))
    response = client.patch(f"/api/v1/jobs/{job.pk}/", {"active": False}, format="json")
    job.refresh_from_db()
    assert (not job.active) is (role in ALLOWED)
    assert response.status_code == (200 if role in ALLOWED else 403)
