"""Records the engine writes cannot be added or edited through the admin's forms, by anyone; they
change only through actions (which call the services) and the services themselves."""

import pytest
from django.contrib import admin
from django.urls import reverse

from alerting.models import AlertDelivery, AlertEvent
from orchestration.models import Task
from queries.models import QueryResult
from tests.tenancy_objects import build

ENGINE_OWNED = [Task, AlertEvent, AlertDelivery, QueryResult]


@pytest.fixture(params=["superuser", "org_owner"])
def staff(request, client, superuser, staff_owner_a):
    client.force_login(superuser if request.param == "superuser" else staff_owner_a)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("model", ENGINE_OWNED, ids=lambda m: m._meta.label)
def test_no_add_and_no_change_form(model, staff, org_a):
    obj = build(model, org_a)
    info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    assert staff.get(reverse(f"{info}_add")).status_code == 403
    assert staff.post(reverse(f"{info}_add"), {}).status_code == 403
    page = staff.get(reverse(f"{info}_change", args=[obj.pk]))
    assert page.status_code == 200  # read-only view
    assert 'name="_save"' not in page.content.decode()
    changelist = staff.get(reverse(f"{info}_changelist")).content.decode()
    assert reverse(f"{info}_add") not in changelist
    model_admin = admin.site._registry[model]
    request = page.wsgi_request
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, obj)


@pytest.mark.django_db
def test_a_finished_task_cannot_be_set_running(staff, org_a):
    task = build(Task, org_a)
    Task.objects.filter(pk=task.pk).update(status="succeeded", attempts=1)
    url = reverse("admin:orchestration_task_change", args=[task.pk])
    data = {"job": str(task.job_id), "status": "running", "attempts": "99", "partitions": "p1"}
    assert staff.post(url, data).status_code == 403
    task.refresh_from_db()
    assert (task.status, task.attempts) == ("succeeded", 1)
