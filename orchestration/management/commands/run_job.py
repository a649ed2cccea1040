"""Run one job now, whatever its activation: a source or an incremental job included."""

from django.core.management.base import BaseCommand, CommandError

from orchestration.selectors.idle import why_nothing_planned
from orchestration.services import job_run_now
from platform_site.admin_display import counted

from ._jobs import find_job


class Command(BaseCommand):
    help = "Run a job now (a full job, a source or an incremental job runs even when fresh)."

    def add_arguments(self, parser):
        parser.add_argument("--job", required=True, help="org_slug/name or id")

    def handle(self, *args, job, **options):
        target = find_job(job)
        if not target.active:
            raise CommandError(f"{target} is paused; resume it first")
        created = job_run_now(job=target)
        line = f"{counted(created, 'task')} created for {target}"
        if not created:
            line += f": {why_nothing_planned(target)}"
        self.stdout.write(line)
