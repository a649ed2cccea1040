"""Print users, one a line; personal fields masked unless unmasked explicitly (see pii.masking)."""

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from orgs.models import User
from pii.masking import mask_value, unmask_allowed
from pii.models import PiiAccessLog
from pii.registry import fields_of_model
from pii.services import access_log_write

COLUMNS = ["external_id", "email", "role", "org"]


class Command(BaseCommand):
    help = (
        "List users (external_id, email, role, org), tab-separated. Personal fields are masked; "
        "--unmask --as USER shows them when USER holds the unmask right, and logs the read as USER."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", help="only this org's users (slug)")
        parser.add_argument("--as", dest="actor", help="external_id of the reader (for --unmask)")
        parser.add_argument("--unmask", action="store_true", help="show personal fields unmasked (logged)")

    def handle(self, *args, org=None, actor=None, unmask=False, **options):
        reader = None
        if actor:
            reader = User.objects.filter(external_id=actor, is_active=True).first()
            if reader is None:
                raise CommandError(f"no active user {actor!r}")
        if unmask and reader is None:
            raise CommandError("--unmask needs --as USER: the read is logged under a user")
        try:
            unmask = unmask_allowed(reader, requested=unmask)
        except PermissionDenied as exc:
            raise CommandError(f"{actor}: {exc}") from None
        users = User.objects.select_related("org").order_by("org__slug", "external_id")
        if org:
            users = users.filter(org__slug=org)
        personal = fields_of_model(User)
        with transaction.atomic():
            reads = []
            for user in users.iterator(chunk_size=1000):
                values = {
                    "external_id": user.external_id,
                    "email": user.email,
                    "role": user.role,
                    "org": user.org.slug,
                }
                for name, strategy in personal.items():
                    if name not in values:
                        continue
                    if unmask:
                        reads.append((User._meta.db_table, name, user.pk))
                    else:
                        values[name] = mask_value(values[name], strategy)
                self.stdout.write("\t".join(str(values[column]) for column in COLUMNS))
            if reads:
                access_log_write(user=reader, action=PiiAccessLog.Action.EXPORT, reads=reads)
