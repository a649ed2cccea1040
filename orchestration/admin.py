"""Admin for jobs and tasks: a job page with its DAG neighbours, tasks, partitions and failures;
actions that call the same services as the API and the commands."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from orgs import policy
from orgs.policy import Operation
from platform_site import tenancy
from platform_site.admin_base import LargeTableAdmin, html_table
from platform_site.admin_display import (
    badge,
    counted,
    id_link,
    moment,
    moment_short,
    once_per_object,
    short_hash,
)
from platform_site.admin_site import RecordTable
from platform_site.templatetags.chainlake_admin import duration
from versioning.models import PartitionVersion

from . import admin_rebuild, admin_views, selectors, services
from .admin_task_log import task_log_table
from .models import ColumnLineage, Job, Task, TaskInput
from .selectors.health import job_lag, job_state, with_health
from .selectors.idle import why_nothing_planned
from .selectors.planning import planning_error


class OperationsAdminMixin:
    """Actions that operate the engine are offered to, and run for, whoever :mod:`orgs.policy`
    allows: ``@admin.action(permissions=["pause"])`` asks ``has_pause_permission``, and each action
    acts only on the selected objects the policy lets the user operate."""

    def has_run_permission(self, request) -> bool:
        return policy.may_operate(request.user, Operation.JOB_RUN)

    def has_pause_permission(self, request) -> bool:
        return policy.may_operate(request.user, Operation.JOB_PAUSE)

    def has_resume_permission(self, request) -> bool:
        return policy.may_operate(request.user, Operation.JOB_RESUME)

    def has_retry_permission(self, request) -> bool:
        return policy.may_operate(request.user, Operation.TASK_RETRY)

    def has_cancel_permission(self, request) -> bool:
        return policy.may_operate(request.user, Operation.TASK_CANCEL)

    def operable(self, request, operation: Operation, queryset):
        """The selected objects ``operation`` may run on; says how many were left alone."""
        allowed = policy.operable(request.user, operation, queryset)
        refused = queryset.count() - allowed.count()
        if refused:
            self.message_user(
                request,
                f"{counted(refused, 'selected item')} left alone: you may not {operation} them",
                messages.WARNING,
            )
        return allowed


class JobAdminForm(forms.ModelForm):
    """Runs the job services' validation so every rule shows as a field error on the form."""

    class Meta:
        model = Job
        exclude = ["config_hash"]  # noqa: DJ006 - maintained by the job services

    def _post_clean(self):
        super()._post_clean()
        if self.errors or not getattr(self.instance, "org_id", None):
            return
        try:
            services.job_validate(job=self.instance)
        except ValidationError as exc:
            self._update_errors(exc)


class BackfillForm(forms.Form):
    first = forms.CharField(required=False, label="From partition (inclusive)")
    last = forms.CharField(required=False, label="To partition (inclusive)")
    partitions = forms.CharField(required=False, help_text="or comma-separated keys", widget=forms.Textarea)
    all = forms.BooleanField(required=False, label="Every partition", help_text="or rebuild them all")

    def clean(self):
        data = super().clean()
        if not (data.get("first") or data.get("last") or data.get("partitions") or data.get("all")):
            raise ValidationError("give a range, partition keys, or tick every partition")
        if data.get("first") and data.get("last") and data["first"] > data["last"]:
            raise ValidationError("the range ends before it starts")
        return data


# How many jobs "Run now" explains, one message each, before it only counts the rest.
RUN_NOW_REASONS_SHOWN = 10


@admin.register(Job)
class JobAdmin(OperationsAdminMixin, admin.ModelAdmin):
    form = JobAdminForm
    list_display = [
        "name",
        "dag_name",
        "org",
        "state",
        "activation",
        "operator",
        "last_success",
        "running",
        "failed_24h",
        "lag",
    ]
    list_filter = ["active", "activation", "runtime", "execution_strategy", "update_strategy", "org"]
    list_select_related = ["org"]
    search_fields = ["name", "dag_name", "operator"]
    autocomplete_fields = ["org"]
    actions = ["run_now", "rebuild", "pause", "resume"]
    readonly_fields = [
        "config_hash",
        "created_at",
        "updated_at",
        "backfill_link",
        "neighbours",
        "recent_tasks",
        "failures",
        "owned_partitions",
        "lineage",
        "dag_graph",
        "health",
    ]
    # The job page reads as tabs: what it is and how it is doing, then each kind of activity.
    fieldsets = [
        (
            "Overview",
            {
                "classes": ["tab"],
                "fields": [
                    "health",
                    "dag_graph",
                    ("org", "name"),
                    ("dag_name", "active"),
                    ("activation", "runtime"),
                    "operator",
                    "neighbours",
                    ("created_at", "updated_at"),
                ],
            },
        ),
        ("Tasks", {"classes": ["tab"], "fields": ["recent_tasks", "failures"]}),
        ("Partitions", {"classes": ["tab"], "fields": ["owned_partitions"]}),
        ("Lineage", {"classes": ["tab"], "fields": ["lineage"]}),
        (
            "Config",
            {
                "classes": ["tab"],
                "fields": [
                    "source",
                    "config",
                    ("input_datasets", "output_datasets"),
                    "config_hash",
                    ("execution_strategy", "update_strategy"),
                    ("unique_key", "idle_timeout"),
                    "scaling",
                    ("timeout_seconds", "heartbeat_timeout_seconds", "max_attempts"),
                ],
            },
        ),
    ]
    change_form_outer_before_template = "admin/orchestration/job_buttons.html"

    def get_queryset(self, request):
        # Health figures as correlated subqueries: one statement for the whole list, no N+1.
        return with_health(super().get_queryset(request))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        job = self.get_object(request, object_id) if object_id else None
        extra_context = {
            **(extra_context or {}),
            "job_buttons": admin_views.job_page_buttons(self, request, job),
        }
        if job is not None:
            extra_context["job_backfill_url"] = reverse("admin:orchestration_job_backfill", args=[job.pk])
            if admin_rebuild.may_rebuild(request.user, job):
                extra_context["job_rebuild_url"] = reverse("admin:orchestration_job_rebuild", args=[job.pk])
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        services.job_save(job=obj)

    def get_object(self, request, object_id, from_field=None):
        job = super().get_object(request, object_id, from_field)
        if job is not None:
            # The job page's neighbours and lineage show only what this viewer may read.
            job._viewer = request.user
        return job

    def get_urls(self):
        return [
            *admin_views.job_page_urls(self),
            *admin_rebuild.rebuild_urls(self),
            path(
                "<path:object_id>/backfill/",
                self.admin_site.admin_view(self.backfill_view),
                name="orchestration_job_backfill",
            ),
            *super().get_urls(),
        ]

    # -- actions ----------------------------------------------------------------------------
    @admin.action(description="Run now (plan stale partitions and dispatch)", permissions=["run"])
    def run_now(self, request, queryset):
        jobs = self.operable(request, Operation.JOB_RUN, queryset)
        created, idle = 0, []
        for job in jobs:
            count = services.job_run_now(job=job)
            created += count
            if not count:
                idle.append(job)
        self.message_user(request, f"{counted(created, 'task')} created")
        # Per job that got nothing, why (the same words as the API's and run_job's).
        for job in idle[:RUN_NOW_REASONS_SHOWN]:
            self.message_user(request, f"{job}: nothing to run: {why_nothing_planned(job)}", messages.WARNING)
        if len(idle) > RUN_NOW_REASONS_SHOWN:
            more = len(idle) - RUN_NOW_REASONS_SHOWN
            self.message_user(
                request, f"and {counted(more, 'more job')} with nothing to run", messages.WARNING
            )

    @admin.action(description="Rebuild… (recompute up-to-date partitions)", permissions=["run"])
    def rebuild(self, request, queryset):
        return admin_rebuild.rebuild_selected(self, request, queryset)

    @admin.action(description="Pause (no planning or dispatch)", permissions=["pause"])
    def pause(self, request, queryset):
        jobs = list(self.operable(request, Operation.JOB_PAUSE, queryset))
        for job in jobs:
            services.job_set_active(job=job, active=False)
        self.message_user(request, f"{counted(len(jobs), 'job')} paused")

    @admin.action(description="Resume", permissions=["resume"])
    def resume(self, request, queryset):
        for job in self.operable(request, Operation.JOB_RESUME, queryset):
            try:
                services.job_set_active(job=job, active=True)
            except ValidationError as exc:
                self.message_user(request, f"{job}: {'; '.join(exc.messages)}", messages.ERROR)

    def backfill_view(self, request, object_id):
        # Scoped like every admin page: a malformed id or another org's job is a 404.
        job = self.get_object(request, object_id)
        if not policy.may_operate_on(request.user, Operation.JOB_BACKFILL, job):
            raise PermissionDenied
        form = BackfillForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            keys = [k.strip() for k in form.cleaned_data["partitions"].split(",") if k.strip()] or None
            try:
                result = services.job_backfill(
                    job=job,
                    partition_keys=keys,
                    first=form.cleaned_data["first"] or None,
                    last=form.cleaned_data["last"] or None,
                )
            except ValueError as exc:
                form.add_error(None, str(exc))
            else:
                services.tasks_dispatch()
                self.message_user(
                    request,
                    f"{counted(result.created, 'task')} over {counted(len(result.partitions), 'partition')}",
                )
                return redirect("admin:orchestration_job_change", job.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Backfill {job}",
            "form": form,
            "job": job,
            "opts": self.model._meta,
            "job_url": reverse("admin:orchestration_job_change", args=[job.pk]),
            "breadcrumbs": [
                {
                    "title": self.opts.app_config.verbose_name,
                    "link": reverse("admin:app_list", args=["orchestration"]),
                },
                {
                    "title": self.opts.verbose_name_plural,
                    "link": reverse("admin:orchestration_job_changelist"),
                },
                {"title": job, "link": reverse("admin:orchestration_job_change", args=[job.pk])},
                {"title": "Backfill"},
            ],
            "intro": "Creates a task for every partition in the range (keys that already have a live "
            "task are skipped), whether or not it is stale. The range is matched against the job's "
            "first input dataset, or its expected partitions for a source job.",
        }
        return TemplateResponse(request, "admin/orchestration/job_backfill.html", context)

    # -- the job list -----------------------------------------------------------------------
    @admin.display(description="State", ordering="active")
    def state(self, job: Job) -> str:
        return badge(job_state(job))

    @admin.display(description="Last success", ordering="last_success_at")
    def last_success(self, job: Job) -> str:
        # Without the date when it is today, so the list's columns fit a laptop screen.
        return moment_short(getattr(job, "last_success_at", None))

    @admin.display(description="Running", ordering="running_count")
    def running(self, job: Job) -> str:
        count = getattr(job, "running_count", 0)
        return format_html('<a href="{}">{}</a>', _tasks_url(job, "running"), count) if count else "0"

    @admin.display(description="Failed (24 h)", ordering="failed_count")
    def failed_24h(self, job: Job) -> str:
        count = getattr(job, "failed_count", 0)
        return format_html('<a href="{}">{}</a>', _tasks_url(job, "failed"), count) if count else "0"

    @admin.display(description="Lag", ordering="oldest_waiting_at")
    def lag(self, job: Job) -> str:
        waited = job_lag(job)
        return duration(waited) if waited is not None else "—"

    # -- the job page -----------------------------------------------------------------------
    @admin.display(description="Health")
    @once_per_object
    def health(self, job: Job) -> str:
        if not job.pk:
            return "—"
        job = with_health(Job.objects.filter(pk=job.pk)).first() or job
        return format_html(
            "{} &nbsp; last success {} · running {} · failed in 24 h {} · lag {}",
            badge(job_state(job)),
            moment(job.last_success_at),
            job.running_count,
            job.failed_count,
            self.lag(job),
        )

    @admin.display(description="DAG around this job")
    @once_per_object
    def dag_graph(self, job: Job) -> str:
        if not job.pk:
            return "—"
        # The job's own org: what any viewer of this page may see (other orgs' producers show as
        # their datasets, their readers without names unless the viewer may read them).
        return admin_views.job_neighbourhood_svg(
            with_health(Job.objects.filter(org_id=job.org_id)), job, viewer=_viewer_of(job)
        )

    @admin.display(description="Backfill")
    @once_per_object
    def backfill_link(self, job: Job) -> str:
        if not job.pk:
            return "—"
        return format_html(
            '<a href="{}">Backfill a partition range…</a>',
            reverse("admin:orchestration_job_backfill", args=[job.pk]),
        )

    @admin.display(description="DAG neighbours")
    @once_per_object
    def neighbours(self, job: Job) -> str:
        if not job.pk:
            return "—"
        found = selectors.job_neighbours(job=job, viewer=_viewer_of(job))

        def links(jobs):
            return format_html_join(
                ", ",
                '<a href="{}">{}</a>',
                ((reverse("admin:orchestration_job_change", args=[j.pk]), str(j)) for j in jobs),
            )

        return format_html(
            "Upstream: {}<br>Downstream: {}",
            links(found["upstream"]) or "none",
            links(found["downstream"]) or "none",
        )

    @admin.display(description="Recent tasks")
    @once_per_object
    def recent_tasks(self, job: Job) -> str:
        tasks = job.tasks.order_by("-created_at")[:20] if job.pk else []
        return html_table(
            ["Task", "Status", "Partitions", "Attempts", "Started", "Completed"],
            [
                (
                    id_link(t.id, Task),
                    badge(t.status),
                    ", ".join(t.partitions[:5]) + ("…" if len(t.partitions) > 5 else ""),
                    t.attempts,
                    moment(t.started_at),
                    moment(t.completed_at),
                )
                for t in tasks
            ],
        )

    @admin.display(description="Failures")
    @once_per_object
    def failures(self, job: Job) -> str:
        tasks = selectors.recent_failures(job=job) if job.pk else []
        failed = planning_error(job=job) if job.pk else None
        table = html_table(
            ["Task", "Status", "Attempts", "Next retry", "Error"],
            [
                (
                    id_link(t.id, Task),
                    badge(t.status),
                    t.attempts,
                    moment(t.next_retry_at),
                    (t.error_message or "")[:300],
                )
                for t in tasks
            ],
            empty="none" if failed is None else "",
        )
        if failed is None:
            return table
        # A planning failure has no task to carry it: the job's last one is kept on the job.
        message, at = failed
        return format_html('<p class="errornote">Planning failed at {}: {}</p>{}', at, message[:1000], table)

    @admin.display(description="Partitions owned (newest 50)")
    @once_per_object
    def owned_partitions(self, job: Job) -> str:
        rows = (
            PartitionVersion.objects.filter(dataset__in=job.output_datasets).order_by("-version")[:50]
            if job.pk
            else []
        )
        return html_table(
            ["Dataset", "Partition", "Version", "Rows", "Bytes", "Built with this config"],
            [
                (
                    p.dataset,
                    p.partition_key,
                    moment(p.version),
                    p.row_count,
                    p.bytes,
                    badge("succeeded", "current")
                    if p.config_hash == job.config_hash
                    else badge("pending", "stale"),
                )
                for p in rows
            ],
        )

    @admin.display(description="Column lineage")
    @once_per_object
    def lineage(self, job: Job) -> str:
        visible = tenancy.visible_to(_viewer_of(job), ColumnLineage)
        upstream = visible.filter(job=job).order_by(
            "output_dataset", "output_column", "input_dataset", "input_column"
        )
        downstream = visible.filter(input_dataset__in=job.output_datasets).order_by(
            "output_dataset", "output_column"
        )
        rows = [(e.input_dataset, e.input_column, e.output_dataset, e.output_column) for e in upstream[:500]]
        rows += [
            (e.input_dataset, e.input_column, e.output_dataset, e.output_column) for e in downstream[:500]
        ]
        return html_table(["From dataset", "From column", "To dataset", "To column"], rows)


def _viewer_of(job: Job):
    """Who is looking at the job page (set by ``JobAdmin.get_object``); nobody, and so nothing of
    other jobs shown, when the page was built another way."""
    return getattr(job, "_viewer", None)


@admin.register(Task)
class TaskAdmin(OperationsAdminMixin, LargeTableAdmin):
    list_display = [
        "short_id",
        "job_link",
        "status_badge",
        "partition_keys",
        "tries",
        "created",
        "started",
        "completed",
        "worker",
    ]
    list_display_links = ["short_id"]
    list_filter = ["status"]
    list_select_related = ["job__org"]
    search_fields = ["=id"]
    raw_id_fields = ["job"]
    readonly_fields = ["created_at", "read_inputs", "log_lines"]
    actions = ["retry", "cancel"]

    def get_fieldsets(self, request, obj=None):
        # The lines logged while the task ran, in a section of their own below the task's fields.
        fields = [f for f in self.get_fields(request, obj) if f != "log_lines"]
        if obj is None:
            return [(None, {"fields": fields})]
        return [(None, {"fields": fields}), ("Log", {"fields": ["log_lines"]})]

    @admin.action(description="Retry (failed or cancelled tasks)", permissions=["retry"])
    def retry(self, request, queryset):
        selected = queryset.count()  # before retrying: a filtered selection may no longer match after
        tasks = self.operable(request, Operation.TASK_RETRY, queryset)
        retried = [t for t in tasks if services.task_retry(task=t)]
        services.tasks_dispatch()
        self.message_user(request, f"{len(retried)} of {counted(selected, 'selected task')} retried")

    @admin.action(description="Cancel (live tasks)", permissions=["cancel"])
    def cancel(self, request, queryset):
        selected = queryset.count()
        tasks = self.operable(request, Operation.TASK_CANCEL, queryset)
        cancelled = [t for t in tasks if services.task_cancel(task=t)]
        self.message_user(request, f"{len(cancelled)} of {counted(selected, 'selected task')} cancelled")

    @admin.display(description="Id", ordering="id")
    def short_id(self, task: Task) -> str:
        return format_html('<span class="cl-short" title="{}">…{}</span>', task.id, str(task.id)[-8:])

    @admin.display(description="Job", ordering="job__name")
    def job_link(self, task: Task) -> str:
        url = reverse("admin:orchestration_job_change", args=[task.job_id])
        return format_html('<a href="{}" title="{}">{}</a>', url, task.job, task.job.name)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, task: Task) -> str:
        return badge(task.status)

    @admin.display(description="Partitions")
    def partition_keys(self, task: Task) -> str:
        keys = task.partitions or []
        shown = ", ".join(keys[:3]) + (f" +{len(keys) - 3}" if len(keys) > 3 else "")
        return format_html('<span title="{}">{}</span>', ", ".join(keys[:50]), shown)

    @admin.display(description="Tries", ordering="attempts")
    def tries(self, task: Task) -> int:
        return task.attempts

    @admin.display(description="Created", ordering="created_at")
    def created(self, task: Task) -> str:
        return moment_short(task.created_at)

    @admin.display(description="Started", ordering="started_at")
    def started(self, task: Task) -> str:
        return moment_short(task.started_at)

    @admin.display(description="Completed", ordering="completed_at")
    def completed(self, task: Task) -> str:
        return moment_short(task.completed_at)

    @admin.display(description="Worker")
    def worker(self, task: Task) -> str:
        return short_hash(task.worker_id)

    @admin.display(description="Inputs read")
    @once_per_object
    def read_inputs(self, task: Task) -> str:
        inputs = task.inputs.order_by("input_dataset", "input_partition")[:500]
        return html_table(
            ["Dataset", "Partition", "Version"],
            [(i.input_dataset, i.input_partition, i.input_version) for i in inputs],
        )

    @admin.display(description="Log lines (newest last)")
    @once_per_object
    def log_lines(self, task: Task) -> str:
        return task_log_table(task.pk) if task.pk else "—"


def _tasks_url(job: Job, status: str) -> str:
    return f"{reverse('admin:orchestration_task_changelist')}?job__id__exact={job.pk}&status__exact={status}"


admin.site.register_records(
    RecordTable(
        model=TaskInput,
        columns=("task_id", "input_dataset", "input_partition", "input_version"),
        filters=("task_id", "input_dataset", "input_partition"),
        ordering=("-input_version",),
        prefix_filters=("input_partition",),
    )
)
admin.site.register_records(
    RecordTable(
        model=ColumnLineage,
        columns=("output_dataset", "output_column", "input_dataset", "input_column", "job"),
        filters=("output_dataset", "input_dataset", "job_id"),
        ordering=("output_dataset", "output_column", "input_dataset", "input_column"),
        select_related=("job__org",),
    )
)
