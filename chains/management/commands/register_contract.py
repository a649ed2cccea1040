"""Register a contract for decoding, as the admin's contracts page and the API do."""

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from orchestration.models import Job
from orgs.models import User
from platform_site import tenancy

from ...contracts import contract_register


class Command(BaseCommand):
    help = (
        "Register a contract of the user's org: its logs (and calls) are decoded by ABI into one "
        "dataset per event. Give --standard (erc20, erc721, ...) or --abi FILE."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="lower-case contract name, e.g. usdc")
        parser.add_argument("--user", required=True, help="external id of the user registering it")
        parser.add_argument("--chain", required=True, help="chain namespace, e.g. evm")
        parser.add_argument("--address", default=None, help="0x...; omit for any address emitting the events")
        parser.add_argument("--standard", default=None)
        parser.add_argument("--abi", default=None, type=Path, help="a file holding the ABI JSON")
        parser.add_argument("--events", default="", help="comma-separated event names (default: all)")
        parser.add_argument(
            "--functions", default="", help="comma-separated function names to decode calls of"
        )

    def handle(self, *args, name, user, chain, address, standard, abi, events, functions, **options):
        person = User.objects.filter(external_id=user, is_active=True).select_related("org").first()
        if person is None:
            raise CommandError(f"no active user {user!r}")
        if not tenancy.can_create(person, Job):
            raise CommandError(f"{user} may not register contracts (only who may create jobs)")
        abi_json = None
        if abi is not None:
            try:
                abi_json = json.loads(abi.read_text())
            except (OSError, ValueError) as exc:
                raise CommandError(f"--abi {abi}: {exc}") from None
        try:
            job = contract_register(
                user=person,
                name=name,
                chain=chain,
                address=address,
                standard=standard,
                abi=abi_json,
                events=[e.strip() for e in events.split(",") if e.strip()] or None,
                functions=[f.strip() for f in functions.split(",") if f.strip()],
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            ) from None
        self.stdout.write(f"registered {name}: job {job.name}, datasets {', '.join(job.output_datasets)}")
