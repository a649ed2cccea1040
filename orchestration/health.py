"""The workers' readiness check for ``/readyz`` (registered with ``platform_site.health`` from the
app's ``ready()``): some worker cluster is alive."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from django_q.models import Schedule
from django_q.status import Stat

from .schedules import TICK_NAME

# The scheduler tick runs every minute on some cluster; its schedule row advancing within this
# window shows that at least one cluster's scheduler is alive.
WORKERS_SEEN_WITHIN = timedelta(seconds=150)


def check_workers() -> None:
    """A cluster's scheduler ran the per-minute tick recently, or a cluster reports its stats."""
    tick = Schedule.objects.filter(name=TICK_NAME).values("task", "next_run").first()
    if tick and tick["task"] and tick["next_run"] >= timezone.now() - WORKERS_SEEN_WITHIN:
        return
    if Stat.get_all():
        return
    raise RuntimeError("no worker cluster seen recently")
