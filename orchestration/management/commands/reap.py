"""Fail (and retry) tasks whose worker stopped heartbeating or that ran past their timeout."""

from django.core.management.base import BaseCommand

from orchestration.services import tasks_reap
from platform_site.admin_display import counted


class Command(BaseCommand):
    help = "Reap lost or timed-out tasks; they are retried with backoff while attempts remain."

    def handle(self, *args, **options):
        self.stdout.write(f"{counted(tasks_reap(), 'task')} reaped")
