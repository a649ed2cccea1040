"""Run the background workers: a django-q2 cluster under the supervisor that keeps it moving."""

from django.core.management.base import BaseCommand

from orchestration.supervisor import WorkerSupervisor


class Command(BaseCommand):
    help = (
        "Run a django-q2 qcluster under a supervisor (one worker host): due retries start within a "
        "second, lost messages are re-sent, on Redis the unfinished messages of a dead cluster or "
        "host go back on the queue, and a cluster that stops making progress is replaced."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--stall-seconds",
            type=float,
            default=None,
            help="replace the cluster after this long without progress while work waits",
        )

    def handle(self, *args, stall_seconds: float | None, **options):
        WorkerSupervisor(stall_seconds=stall_seconds).run()
