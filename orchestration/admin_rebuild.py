"""The admin's "Rebuild…": a confirmation page, reached from the job page (one job, every partition
or a range or keys) or from the jobs changelist's action (the selected jobs, every partition).

Nothing happens on GET: the page says exactly what the rebuild will do (``RebuildPlan.summary``) and
only its confirm button (a POST with the CSRF token) calls :func:`services.job_rebuild`. Who may
rebuild is who may run the job (``services.REBUILD_OPERATION`` asked of ``orgs.policy``); another
org's job is a 404, as everywhere in the admin.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from orgs import policy
from platform_site.admin_display import counted

from . import services

TEMPLATE = "admin/orchestration/job_rebuild.html"
# The changelist action's confirming POST carries this, as Django's own delete confirmation does.
CONFIRMED = "confirmed"


class RebuildForm(forms.Form):
    """Which partitions: every one (left empty), comma-separated keys, or a range."""

    partitions = forms.CharField(
        required=False, max_length=200_000, help_text="comma-separated keys; empty: every partition"
    )
    first = forms.CharField(required=False, max_length=200, label="From partition (inclusive)")
    last = forms.CharField(required=False, max_length=200, label="To partition (inclusive)")

    def clean(self):
        data = super().clean()
        if data.get("partitions") and (data.get("first") or data.get("last")):
            raise ValidationError({"partitions": "give partition keys or a range, not both"})
        if data.get("first") and data.get("last") and data["first"] > data["last"]:
            raise ValidationError({"last": "the range ends before it starts"})
        return data

    def selection(self) -> dict:
        """The service's keyword arguments for what the form names."""
        keys = [k.strip() for k in self.cleaned_data.get("partitions", "").split(",") if k.strip()]
        return {
            "partition_keys": keys or None,
            "first": self.cleaned_data.get("first") or None,
            "last": self.cleaned_data.get("last") or None,
        }

    def narrowed(self) -> bool:
        return any(self.selection().values())


def rebuild_urls(model_admin) -> list:
    return [
        path(
            "<path:object_id>/rebuild/",
            model_admin.admin_site.admin_view(
                lambda request, object_id: job_rebuild_view(model_admin, request, object_id)
            ),
            name="orchestration_job_rebuild",
        )
    ]


def may_rebuild(user, job) -> bool:
    return policy.may_operate_on(user, services.REBUILD_OPERATION, job)


def job_rebuild_view(model_admin, request, object_id):
    job = model_admin.get_object(request, object_id)
    if job is None:  # missing, malformed or another org's: not known here
        raise Http404
    job_url = reverse("admin:orchestration_job_change", args=[job.pk])
    context = _page_context(model_admin, request, job, job_url)
    if not may_rebuild(request.user, job):
        context["refusal"] = (
            f"You may not rebuild {job}: rebuilding needs the right to run the job (an admin or "
            "owner of its org, or a change permission on this job)."
        )
        return TemplateResponse(request, TEMPLATE, context, status=403)
    form = RebuildForm(request.POST if request.method == "POST" else request.GET)
    plan = None
    if form.is_valid():
        try:
            plan = services.rebuild_plan(job=job, viewer=request.user, **form.selection())
        except ValidationError as exc:
            form.add_error(None, exc)
    if request.method == "POST" and plan is not None:
        try:
            result = services.job_rebuild(job=job, **form.selection())
        except ValidationError as exc:  # the job changed since the page was drawn
            form.add_error(None, exc)
            plan = None
        else:
            model_admin.message_user(request, _done(job, result))
            return redirect(job_url)
    context.update(
        form=form,
        plans=[plan] if plan is not None else [],
        confirm_url=request.path,
        confirm_fields=[(name, form.data.get(name, "")) for name in form.fields if form.data.get(name)],
    )
    return TemplateResponse(request, TEMPLATE, context)


def rebuild_selected(model_admin, request, queryset):
    """The changelist action: a confirmation page for the selected jobs the user may rebuild; its
    confirm button posts the action again with ``confirmed``, which rebuilds them."""
    jobs = list(model_admin.operable(request, services.REBUILD_OPERATION, queryset).select_related("org"))
    plans, refusals = [], []
    for job in jobs:
        try:
            plans.append(services.rebuild_plan(job=job, viewer=request.user))
        except ValidationError as exc:
            refusals.append(f"{job}: {' '.join(exc.messages)}")
    if request.POST.get(CONFIRMED) == "yes":
        for plan in plans:
            try:
                result = services.job_rebuild(job=plan.job)
            except ValidationError as exc:
                model_admin.message_user(request, f"{plan.job}: {' '.join(exc.messages)}", messages.ERROR)
            else:
                model_admin.message_user(request, _done(plan.job, result))
        for refusal in refusals:
            model_admin.message_user(request, refusal, messages.WARNING)
        return None  # back to the changelist
    changelist = reverse("admin:orchestration_job_changelist")
    context = _page_context(model_admin, request, None, changelist)
    context.update(
        plans=plans,
        refusals=refusals,
        confirm_url=request.get_full_path(),
        confirm_fields=[
            ("action", "rebuild"),
            *(("_selected_action", str(plan.job.pk)) for plan in plans),
            (CONFIRMED, "yes"),
        ],
    )
    return TemplateResponse(request, TEMPLATE, context)


def _done(job, result: services.RebuildResult) -> str:
    return (
        f"Rebuilding {job}: {counted(result.created, 'task')} over "
        f"{counted(len(result.partitions), 'partition')} created and dispatched"
    )


def _page_context(model_admin, request, job, cancel_url: str) -> dict:
    opts = model_admin.model._meta
    trail = [
        {"title": opts.app_config.verbose_name, "link": reverse("admin:app_list", args=["orchestration"])},
        {"title": opts.verbose_name_plural, "link": reverse("admin:orchestration_job_changelist")},
    ]
    if job is not None:
        trail.append({"title": job, "link": cancel_url})
    trail.append({"title": "Rebuild"})
    return {
        **model_admin.admin_site.each_context(request),
        "title": f"Rebuild {job}" if job is not None else "Rebuild the selected jobs",
        "opts": opts,
        "job": job,
        "cancel_url": cancel_url,
        "breadcrumbs": trail,
        "intro": "A rebuild recomputes partitions even though they are up to date and publishes them "
        "as new versions; the jobs that read them rerun as after any publish. Nothing happens until "
        "you confirm.",
    }
