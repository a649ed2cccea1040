"""Create the demo pipeline: the chains ``evm`` and ``base`` in the chain registry with their
ingestion jobs, each chain's transfers, daily stats, transfers per chain per day, and labels for the
demo org.

Idempotent: run by ``seed_demo`` on every ``make run``; creates what is missing and never undoes an
edit made in the admin. With ``CHAINLAKE_EVM_RPC_URL`` set the ``evm`` chain follows that node
(``evm_rpc``); without it synthetic chains feed the same pipeline.
"""

import os

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from chains.demo import demo_pipeline_seed
from orgs.models import Org, User, platform_org

RPC_URL_ENV = "CHAINLAKE_EVM_RPC_URL"


class Command(BaseCommand):
    help = "Create the demo chain pipeline where it is missing (idempotent; keeps admin edits)."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="print nothing")

    def handle(self, *args, quiet: bool = False, **options):
        platform = platform_org()
        demo, _ = Org.objects.get_or_create(slug="demo", defaults={"name": "Demo"})
        user = User.objects.filter(is_superuser=True).order_by("created_at").first()
        rpc_url = os.environ.get(RPC_URL_ENV) or None
        try:
            jobs = demo_pipeline_seed(platform=platform, demo=demo, user=user, rpc_url=rpc_url)
        except ValidationError as exc:
            problems = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise CommandError(f"the demo pipeline is invalid: {problems}") from None
        if not quiet:
            source = f"evm_rpc on {RPC_URL_ENV}" if rpc_url else "a synthetic chain"
            self.stdout.write(f"Demo pipeline: {len(jobs)} jobs, chains evm ({source}) and base (synthetic)")
