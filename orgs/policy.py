"""Who may operate the engine: one rule per operation, asked by every surface.

Pausing, resuming, running, backfilling a job, retrying and cancelling its tasks, and recording an
invalidation change what the platform computes, so they are decided here, next to the base roles of
:mod:`orgs.roles`: the admin's actions (which are also hidden from whoever may not run them), the
API's action endpoints and commands that act for a user all call :func:`may_operate` (may the user
run it at all) and :func:`operable` (on which of these objects).

The rule: an org ``admin`` or ``owner`` operates the jobs of its org and their tasks; anyone else
only the jobs on which an object permission grants ``change`` (the same right that lets them edit
the job through the API), and those jobs' tasks. Superusers operate every org. Viewers and members
without such a grant operate nothing.
"""

from __future__ import annotations

from enum import StrEnum

from django.apps import apps
from django.db import models

from platform_site import tenancy

from .models import UserRole
from .roles import has_role


class Operation(StrEnum):
    JOB_PAUSE = "pause"
    JOB_RESUME = "resume"
    JOB_RUN = "run"
    JOB_BACKFILL = "backfill"
    TASK_RETRY = "retry"
    TASK_CANCEL = "cancel"
    DATASET_INVALIDATE = "invalidate"


JOB_OPERATIONS = frozenset(
    {Operation.JOB_PAUSE, Operation.JOB_RESUME, Operation.JOB_RUN, Operation.JOB_BACKFILL}
)
TASK_OPERATIONS = frozenset({Operation.TASK_RETRY, Operation.TASK_CANCEL})

# The base role that may run an operation on every object of its org.
MINIMUM_ROLE = {operation: UserRole.ADMIN for operation in Operation}
# The object permission, on a job, that lets a lesser role run a job or task operation on that job.
JOB_GRANT = "change"


def _job_model() -> type[models.Model]:
    # By label: the engine's models sit above this app, which must not import them.
    return apps.get_model("orchestration", "Job")


def _acts(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def may_operate(user, operation: Operation | str) -> bool:
    """Whether ``user`` may run ``operation`` on anything at all (offer the action or not)."""
    operation = Operation(operation)
    if not _acts(user):
        return False
    if has_role(user, MINIMUM_ROLE[operation]):
        return True
    if operation in JOB_OPERATIONS or operation in TASK_OPERATIONS:
        return operable_jobs(user).exists()
    return False


def operable_jobs(user, queryset: models.QuerySet | None = None) -> models.QuerySet:
    """The jobs (of ``queryset``, default every job) whose runs ``user`` may operate."""
    queryset = _job_model().objects.all() if queryset is None else queryset
    if not _acts(user):
        return queryset.none()
    # Org admins: every job of their org; others: jobs granting them ``change``. The tenancy
    # registry holds exactly this as the jobs a user may change.
    return tenancy.editable_by(user, queryset, JOB_GRANT)


def operable(user, operation: Operation | str, queryset: models.QuerySet) -> models.QuerySet:
    """The objects of ``queryset`` (jobs or tasks) on which ``user`` may run ``operation``."""
    operation = Operation(operation)
    if not may_operate(user, operation):
        return queryset.none()
    if operation in JOB_OPERATIONS:
        return operable_jobs(user, queryset)
    if operation in TASK_OPERATIONS:
        return queryset.filter(job__in=operable_jobs(user).values("pk"))
    raise ValueError(f"{operation} does not act on {queryset.model._meta.label}")


def may_operate_on(user, operation: Operation | str, obj: models.Model) -> bool:
    return operable(user, operation, type(obj)._default_manager.filter(pk=obj.pk)).exists()
