"""Import address labels from a CSV file into a user's org (see labels.services)."""

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from labels.services import ImportFileError, address_labels_import_file
from orgs.models import User, Visibility
from platform_site.admin_display import counted


class Command(BaseCommand):
    help = (
        "Upsert address labels from a CSV (header: address, label[, visibility]) as USER, into USER's org. "
        "Good rows are imported; every rejected row is listed with its line and reason, and the command "
        "then exits non-zero. Importing the same file again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path of the CSV file (UTF-8)")
        parser.add_argument("--user", required=True, help="external_id of the user the labels are created as")
        parser.add_argument(
            "--visibility", default=Visibility.ORG, choices=Visibility.values, help="for rows with none (org)"
        )

    def handle(self, *args, file, user, visibility, **options):
        actor = User.objects.select_related("org").filter(external_id=user, is_active=True).first()
        if actor is None:
            raise CommandError(f"no active user {user!r}")
        try:
            with open(file, "rb") as handle, tqdm(desc="importing", unit="row", disable=None) as bar:
                report = address_labels_import_file(
                    user=actor, file=handle, default_visibility=visibility, progress=bar.update
                )
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror or exc}") from None
        except ImportFileError as exc:
            raise CommandError(f"{file}: {exc}; nothing imported") from None
        except PermissionDenied as exc:
            raise CommandError(f"{user}: {exc}") from None
        for rejected in report.rejected:
            self.stdout.write(f"line {rejected.line}: {rejected.reason}")
        self.stdout.write(report.summary)
        if report.rejected:
            raise CommandError(
                f"{counted(len(report.rejected), 'row')} rejected (listed above); the others were imported"
            )
