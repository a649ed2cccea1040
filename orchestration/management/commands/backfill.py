"""Create tasks for a partition range of a job, whatever their staleness."""

from django.core.management.base import BaseCommand, CommandError

from orchestration.services import job_backfill, tasks_dispatch
from platform_site.admin_display import counted

from ._jobs import find_job


class Command(BaseCommand):
    help = "Backfill a job over a partition range (keys with a live task are skipped)."

    def add_arguments(self, parser):
        parser.add_argument("--job", required=True, help="org_slug/name or id")
        parser.add_argument("--from", dest="first", help="first partition key (inclusive)")
        parser.add_argument("--to", dest="last", help="last partition key (inclusive)")
        parser.add_argument("--partitions", help="comma-separated partition keys instead of a range")
        parser.add_argument("--all", action="store_true", help="every partition (asked for explicitly)")
        parser.add_argument("--no-dispatch", action="store_true")

    def handle(
        self, *args, job, first=None, last=None, partitions=None, all=False, no_dispatch=False, **options
    ):
        target = find_job(job)
        ranged = first is not None or last is not None
        if partitions and ranged:
            raise CommandError("give --partitions or --from/--to, not both")
        if not (ranged or partitions or all):
            raise CommandError("give --from/--to, --partitions, or --all to rebuild every partition")
        if first and last and first > last:
            raise CommandError(f"--from {first} is after --to {last}")
        keys = [k.strip() for k in partitions.split(",") if k.strip()] if partitions else None
        try:
            result = job_backfill(job=target, partition_keys=keys, first=first, last=last)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        dispatched = [] if no_dispatch else tasks_dispatch()
        self.stdout.write(
            f"{counted(result.created, 'task')} over "
            f"{counted(len(result.partitions), 'partition')} of {target}; "
            f"{len(dispatched)} dispatched"
        )
