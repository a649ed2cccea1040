"""Tenancy rules for jobs, tasks and lineage (see :mod:`orgs.roles` for the rights).

Background code acting for an org uses :func:`jobs_of_org` / :func:`tasks_of_org`; code acting for a
user uses ``platform_site.tenancy.visible_to`` / ``editable_by``.
"""

from __future__ import annotations

from django.db.models import QuerySet

from orgs.models import Org
from orgs.roles import is_org_admin
from orgs.selectors import (
    granted_q,
    org_admin_editable,
    org_member_visible,
)
from platform_site.tenancy import register_scope

from ..models import ColumnLineage, Job, Task, TaskInput


def jobs_of_org(org: Org) -> QuerySet[Job]:
    return Job.objects.filter(org=org)


def tasks_of_org(org: Org) -> QuerySet[Task]:
    return Task.objects.filter(job__org=org)


def _job_editable(user, queryset, action):
    queryset = queryset.filter(org_id=user.org_id)
    if is_org_admin(user):
        return queryset
    return queryset.filter(granted_q(user, Job, [action]))


def _job_visible(user, queryset):
    return queryset.filter(org_id=user.org_id)


register_scope(Job, visible=_job_visible, editable=_job_editable, can_create=is_org_admin)
register_scope(
    Task,
    visible=lambda user, qs: org_member_visible(user, qs, "job__org"),
    editable=org_admin_editable("job__org"),
    org_field="job__org",
)
register_scope(
    TaskInput,
    visible=lambda user, qs: org_member_visible(user, qs, "task__job__org"),
    editable=lambda user, qs, action: qs.none(),
    org_field="task__job__org",
)
register_scope(
    ColumnLineage,
    visible=lambda user, qs: org_member_visible(user, qs, "job__org"),
    editable=lambda user, qs, action: qs.none(),
    org_field="job__org",
)
