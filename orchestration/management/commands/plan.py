"""Plan stale partitions now (one job, or every active non-manual job) and dispatch."""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from orchestration.models import Job
from orchestration.services import job_plan, plan_active_jobs, tasks_dispatch

from ._jobs import find_job


class Command(BaseCommand):
    help = "Create tasks for stale partitions (SPEC section 3) and dispatch them to the workers."

    def add_arguments(self, parser):
        parser.add_argument("--job", help="job id or org_slug/name (default: every active non-manual job)")
        parser.add_argument("--no-dispatch", action="store_true", help="create tasks but leave them pending")

    def handle(self, *args, job=None, no_dispatch=False, **options):
        if job:
            results = [job_plan(job=find_job(job))]
        else:
            total = Job.objects.filter(active=True).exclude(activation=Job.Activation.MANUAL).count()
            with tqdm(total=total, desc="planning", unit="job", disable=total < 2) as bar:
                results = plan_active_jobs(progress=bar.update)
        created = sum(r.created for r in results)
        dispatched = [] if no_dispatch else tasks_dispatch()
        self.stdout.write(
            f"{created} task(s) created for {len(results)} job(s); {len(dispatched)} dispatched"
        )
