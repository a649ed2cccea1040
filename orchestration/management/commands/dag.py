"""Print the DAG: producer -> dataset -> consumer edges between active jobs."""

from django.core.management.base import BaseCommand, CommandError

from orchestration.selectors import dag_edges
from orgs.models import Org


class Command(BaseCommand):
    help = "Show the edges between active jobs (through dataset names)."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="org slug")
        parser.add_argument("--dag", help="dag_name")

    def handle(self, *args, org=None, dag=None, **options):
        scope = None
        if org:
            scope = Org.objects.filter(slug=org).first()
            if scope is None:
                raise CommandError(f"no org {org!r}")
        edges = dag_edges(org=scope, dag_name=dag)
        if not edges:
            self.stdout.write("no edges")
        for producer, dataset, consumer in edges:
            self.stdout.write(f"{producer} -> {dataset} -> {consumer}")
