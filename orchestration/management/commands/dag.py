"""Print the DAG: producer -> dataset -> consumer edges between active jobs (jobs as org/name)."""

from django.core.management.base import BaseCommand, CommandError

from orchestration.models import Job
from orchestration.selectors import dag_edges
from orgs.models import Org


class Command(BaseCommand):
    help = "Show the edges between active jobs (through dataset names), jobs named org/name."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="org slug: edges with a job of this org at either end")
        parser.add_argument("--dag", help="dag_name: edges with a job of this DAG at either end")

    def handle(self, *args, org=None, dag=None, **options):
        scope = None
        if org:
            scope = Org.objects.filter(slug=org).first()
            if scope is None:
                raise CommandError(f"no org {org!r}")
        if dag:
            jobs = Job.objects.filter(dag_name=dag)
            if scope is not None:
                jobs = jobs.filter(org=scope)
            if not jobs.exists():
                raise CommandError(f"no DAG {dag!r}" + (f" in org {org!r}" if scope else ""))
        edges = dag_edges(org=scope, dag_name=dag)
        if not edges:
            self.stdout.write("no edges between active jobs")
        for producer, dataset, consumer in edges:
            self.stdout.write(f"{producer} -> {dataset} -> {consumer}")
