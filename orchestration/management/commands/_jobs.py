"""Shared helpers of the orchestration commands."""

from __future__ import annotations

import uuid

from django.core.management.base import CommandError

from orchestration.models import Job
from orgs import policy
from orgs.models import User
from platform_site import tenancy


def find_job(reference: str, *, argument: str = "--job") -> Job:
    """A job by ``org_slug/name`` (how jobs are named everywhere) or id; CommandError with one line
    otherwise."""
    try:
        return Job.objects.select_related("org").get(pk=uuid.UUID(reference))
    except ValueError:
        pass
    except Job.DoesNotExist:
        raise CommandError(f"no job with id {reference}") from None
    slug, _, name = reference.partition("/")
    if not name:
        raise CommandError(f"{argument} {reference!r}: give a job id or org_slug/name")
    job = Job.objects.select_related("org").filter(org__slug=slug, name=name).first()
    if job is None:
        raise CommandError(f"no job {name!r} in org {slug!r}")
    return job


def acting_user(external_id: str) -> User:
    """The active user a command acts as (``--user``, their login)."""
    user = User.objects.select_related("org").filter(external_id=external_id, is_active=True).first()
    if user is None:
        raise CommandError(f"no active user {external_id!r}")
    return user


def visible_job(
    user: User, job: Job, *, reference: str, operation: policy.Operation, verb: str | None = None
) -> Job:
    """``job`` as ``user`` may act on it: another org's job is unknown to them (the same words as a
    job that does not exist), one they may only read is refused with the reason."""
    if not tenancy.visible_to(user, Job.objects.filter(pk=job.pk)).exists():
        slug, _, name = reference.partition("/")
        raise CommandError(f"no job {name!r} in org {slug!r}" if name else f"no job with id {reference}")
    if not policy.may_operate_on(user, operation, job):
        raise CommandError(
            f"{user.external_id} may not {verb or operation} {job}: that needs the right to {operation} "
            "it (an admin or owner of its org, or a change permission on the job)"
        )
    return job
