"""Plan stale partitions now (one job, or every active non-manual job) and dispatch."""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from orchestration.models import Job, Task
from orchestration.selectors.idle import failed_without_output, why_nothing_planned
from orchestration.services import job_plan, plan_active_jobs, tasks_dispatch
from orchestration.services.scheduler import schedule_is_due
from platform_site.admin_display import counted

from ._jobs import find_job


class Command(BaseCommand):
    help = (
        "Create tasks for stale partitions (missing, or older than what they were built from) "
        "and dispatch them to the workers."
    )

    def add_arguments(self, parser):
        parser.add_argument("--job", help="org_slug/name or id (default: every active non-manual job)")
        parser.add_argument("--no-dispatch", action="store_true", help="create tasks but leave them pending")

    def handle(self, *args, job=None, no_dispatch=False, **options):
        target = find_job(job) if job else None
        if target is not None:
            results = [job_plan(job=target)]
        else:
            total = Job.objects.filter(active=True).exclude(activation=Job.Activation.MANUAL).count()
            with tqdm(total=total, desc="planning", unit="job", disable=total < 2) as bar:
                results = plan_active_jobs(progress=bar.update)
        created = sum(r.created for r in results)
        dispatched = [] if no_dispatch else tasks_dispatch()
        tasks, jobs = counted(created, "task"), counted(len(results), "job")
        line = f"{tasks} created for {jobs}; {len(dispatched)} dispatched"
        if not created:
            line += f": {why_nothing_planned(target) if target is not None else _why_no_job_planned()}"
        self.stdout.write(line)


def _why_no_job_planned() -> str:
    jobs = Job.objects.all()
    paused = jobs.filter(active=False).count()
    manual = jobs.filter(active=True, activation=Job.Activation.MANUAL).count()
    scheduled = jobs.filter(active=True, activation=Job.Activation.SCHEDULE)
    not_due = sum(1 for job in scheduled if not schedule_is_due(job=job))
    planned = jobs.filter(active=True).exclude(activation=Job.Activation.MANUAL).count() - not_due
    line = (
        f"nothing stale in the {counted(planned, 'job')} planned ({paused} paused, {manual} manual "
        f"(use --job or run_job), {not_due} scheduled and not yet due)"
    )
    failed = {
        f"{job.org.slug}/{job.name}": len(keys)
        for job in jobs.filter(active=True, tasks__status=Task.Status.FAILED).select_related("org").distinct()
        if (keys := failed_without_output(job))
    }
    if failed:
        line += "; partitions that failed and have no output: " + ", ".join(
            f"{name} ({count})" for name, count in sorted(failed.items())
        )
    return line
