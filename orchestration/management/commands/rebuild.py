"""Recompute and republish a job's partitions even though they are up to date, after confirming."""

import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from orchestration.services import REBUILD_OPERATION, job_rebuild, rebuild_plan
from platform_site.admin_display import counted

from ._jobs import acting_user, find_job, visible_job


class Command(BaseCommand):
    help = (
        "Rebuild a job: recompute and republish every partition (or --partition keys, or a "
        "--first/--last range) even though they are up to date; the jobs downstream rerun. Says what "
        "will happen and asks first (--yes to skip the question; required when stdin is not a terminal)."
    )

    def add_arguments(self, parser):
        parser.add_argument("job", help="org_slug/name or id")
        parser.add_argument(
            "--partition", action="append", dest="partitions", metavar="KEY", help="a key (repeatable)"
        )
        parser.add_argument("--first", help="first partition key of a range (inclusive)")
        parser.add_argument("--last", help="last partition key of a range (inclusive)")
        parser.add_argument(
            "--user",
            help="act as this user (external_id): their org's jobs only, and only if they may run it",
        )
        parser.add_argument("--yes", action="store_true", help="do it without asking")

    def handle(self, *args, job, partitions=None, first=None, last=None, user=None, yes=False, **options):
        actor = acting_user(user) if user else None
        target = find_job(job, argument="job")
        if actor is not None:
            target = visible_job(actor, target, reference=job, operation=REBUILD_OPERATION, verb="rebuild")
        selection = {"partition_keys": partitions, "first": first, "last": last}
        try:
            plan = rebuild_plan(job=target, viewer=actor, **selection)
        except ValidationError as exc:
            raise CommandError(_one_line(exc)) from None
        self.stdout.write(plan.summary())
        if not yes:
            if not sys.stdin.isatty():
                raise CommandError("stdin is not a terminal: confirm with --yes")
            answer = input("Rebuild? [y/N] ").strip().lower()
            if answer not in ("y", "yes"):
                self.stdout.write("nothing done")
                return
        try:
            result = job_rebuild(job=target, **selection)
        except ValidationError as exc:
            raise CommandError(_one_line(exc)) from None
        self.stdout.write(
            f"{counted(result.created, 'task')} over "
            f"{counted(len(result.partitions), 'partition')} of {target} created "
            "and dispatched"
        )


# The service's field names as this command spells its options.
OPTION = {"partitions": "--partition", "first": "--first", "last": "--last"}


def _one_line(exc: ValidationError) -> str:
    if not hasattr(exc, "error_dict"):
        return " ".join(exc.messages)
    return "; ".join(
        f"{OPTION[name]}: {' '.join(messages)}" if name in OPTION else " ".join(messages)
        for name, messages in exc.message_dict.items()
    )
