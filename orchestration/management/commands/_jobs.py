"""Shared helpers of the orchestration commands."""

from __future__ import annotations

import uuid

from django.core.management.base import CommandError

from orchestration.models import Job


def find_job(reference: str) -> Job:
    """A job by id or ``org_slug/name``; CommandError with one line otherwise."""
    try:
        return Job.objects.select_related("org").get(pk=uuid.UUID(reference))
    except ValueError:
        pass
    except Job.DoesNotExist:
        raise CommandError(f"no job with id {reference}") from None
    slug, _, name = reference.partition("/")
    if not name:
        raise CommandError(f"--job {reference!r}: give a job id or org_slug/name")
    job = Job.objects.select_related("org").filter(org__slug=slug, name=name).first()
    if job is None:
        raise CommandError(f"no job {name!r} in org {slug!r}")
    return job
