"""Admin pages around jobs beyond Django's own: the DAG page, the DAG around one job, and the job
page's action buttons (which run the changelist's actions, with their permission checks, on one
job)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from platform_site import tenancy

from .dag_drawing import build_graph, render_svg
from .models import Job
from .selectors.health import job_state, with_health

# Actions offered as buttons on the job page, in this order.
JOB_PAGE_ACTIONS = ("run_now", "pause", "resume")


def job_page_urls(model_admin) -> list:
    site = model_admin.admin_site
    return [
        path(
            "dags/",
            site.admin_view(lambda request: dag_view(model_admin, request)),
            name="orchestration_dags",
        ),
        path(
            "<path:object_id>/do/<str:action>/",
            site.admin_view(
                lambda request, object_id, action: job_action_view(model_admin, request, object_id, action)
            ),
            name="orchestration_job_action",
        ),
    ]


def job_action_view(model_admin, request, object_id, action):
    """POST only: run the changelist action ``action`` on this one job, as the changelist would
    (the same action function, offered only if ``get_actions`` offers it to this user)."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    job = model_admin.get_object(request, object_id)  # 404 when missing or not visible
    if action not in JOB_PAGE_ACTIONS or not model_admin.has_change_permission(request, job):
        raise PermissionDenied
    actions = model_admin.get_actions(request)
    if action not in actions:
        raise PermissionDenied
    func = actions[action][0]
    response = func(model_admin, request, model_admin.get_queryset(request).filter(pk=job.pk))
    return response or redirect("admin:orchestration_job_change", job.pk)


def job_page_buttons(model_admin, request, job) -> list[dict]:
    """The action buttons this user may press on this job's page."""
    if job is None or not model_admin.has_change_permission(request, job):
        return []
    actions = model_admin.get_actions(request)
    buttons = [
        {
            "name": name,
            "label": str(actions[name][2]).split(" (")[0],
            "url": reverse("admin:orchestration_job_action", args=[job.pk, name]),
        }
        for name in JOB_PAGE_ACTIONS
        if name in actions
        and not (name == "pause" and not job.active)
        and not (name == "resume" and job.active)
    ]
    return buttons


def _job_url(job) -> str:
    return reverse("admin:orchestration_job_change", args=[job.pk])


@dataclass(frozen=True)
class _UnnamedJob:
    """A downstream job the viewer may not read: drawn, so the DAG is whole, but without its name."""

    pk: object
    input_datasets: list
    output_datasets: list = field(default_factory=list)
    name: str = "another org's job"
    operator: str = "not shown"
    active: bool = True


def job_neighbourhood_svg(visible_jobs, job, *, viewer=None):
    """The DAG around ``job``: the jobs among ``visible_jobs`` that feed it or that it feeds, and,
    drawn without their names, the jobs of other orgs that read its outputs (``viewer`` may not
    read those)."""
    if job is None or not job.pk:
        return ""
    neighbours = list(
        visible_jobs.filter(
            Q(output_datasets__overlap=job.input_datasets)
            | Q(input_datasets__overlap=job.output_datasets)
            | Q(pk=job.pk)
        )
    )
    shown = {j.pk for j in neighbours}
    readers = Job.objects.filter(active=True, input_datasets__overlap=job.output_datasets).exclude(
        pk__in=shown
    )
    readable = set(tenancy.visible_to(viewer, readers).values_list("pk", flat=True)) if viewer else set()
    for reader in with_health(readers.select_related("org")):
        if reader.pk in readable:
            neighbours.append(reader)
        else:
            unnamed = [d for d in reader.input_datasets if d in job.output_datasets]
            neighbours.append(_UnnamedJob(pk=reader.pk, input_datasets=unnamed))
    return render_svg(
        build_graph(
            neighbours,
            states={j.pk: job_state(j) for j in neighbours if isinstance(j, Job)},
            urls={j.pk: _job_url(j) for j in neighbours if isinstance(j, Job)},
            current=job,
        ),
        title=f"DAG around {job.name}",
    )


def dag_view(model_admin, request):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    jobs = list(model_admin.get_queryset(request).select_related(None).order_by("dag_name", "name"))
    by_dag = defaultdict(list)
    for job in jobs:
        by_dag[job.dag_name].append(job)
    dags = []
    for name, members in sorted(by_dag.items()):
        states = {j.pk: job_state(j) for j in members}
        dags.append(
            {
                "name": name,
                "svg": render_svg(
                    build_graph(members, states=states, urls={j.pk: _job_url(j) for j in members}),
                    title=f"DAG {name}",
                ),
                "jobs": len(members),
                "failing": sum(1 for s in states.values() if s == "failing"),
                "paused": sum(1 for s in states.values() if s == "paused"),
                "changelist": f"{reverse('admin:orchestration_job_changelist')}?dag_name={name}",
            }
        )
    if request.GET.get("dag"):
        dags = [d for d in dags if d["name"] == request.GET["dag"]]
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "DAGs",
        "dags": dags,
    }
    if not dags and jobs:
        messages.info(request, "No DAG by that name.")
    return TemplateResponse(request, "admin/orchestration/dags.html", context)
