"""Address labels in bulk: CSV import (admin and command) and lookup of many addresses.

Import rules:

- The CSV has a header naming ``address`` and ``label`` (any order, any case), optionally
  ``visibility`` (``private``, ``org``, ``public``; empty means the import's default, ``org``).
- Every row is checked on its own; a bad row is reported with its line number and why, and the good
  rows are imported all the same (in one transaction).
- Labels belong to the importer's org and are upserted on the natural key (address, org, label):
  a new key is created, an existing one gets the row's visibility if it differs and the importer may
  change that label, and is left untouched otherwise. Importing the same file twice changes nothing
  the second time (not even ``updated_at``).
- Imports into one org are serialised by a transaction-scoped advisory lock, so two concurrent
  imports of overlapping files cannot both create the same key.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils import timezone

from labels.addresses import AddressError, evm_address_normalize
from labels.models import AddressLabel
from orgs.models import Visibility
from platform_site import tenancy

MAX_LABEL_LENGTH = 200
MAX_LOOKUP_ADDRESSES = 1000
BATCH = 5000


class ImportFileError(ValueError):
    """The file as a whole cannot be read (no header, not text): nothing was imported."""


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return (
            f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
            f"{len(self.rejected)} rejected"
        )


@dataclass(frozen=True)
class _Row:
    line: int
    address: str
    label: str
    visibility: str


def _parse(lines: Iterable[str], *, default_visibility: str, report: ImportReport) -> list[_Row]:
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFileError("the file is empty; expected a header with address and label") from None
    except csv.Error as exc:
        raise ImportFileError(f"not a CSV file: {exc}") from None
    names = [name.strip().lower().lstrip("\ufeff") for name in header]
    if "address" not in names or "label" not in names:
        raise ImportFileError("the header must name the columns address and label (visibility is optional)")
    position = {name: names.index(name) for name in ("address", "label", "visibility") if name in names}
    rows: list[_Row] = []
    seen: dict[tuple[str, str], int] = {}
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            report.rejected.append(RejectedRow(reader.line_num, f"unreadable CSV: {exc}"))
            continue
        line = reader.line_num
        if not any(value.strip() for value in values):
            continue  # blank lines are not rows
        if len(values) < len(header):
            report.rejected.append(RejectedRow(line, f"{len(values)} columns, the header has {len(header)}"))
            continue
        try:
            address = evm_address_normalize(values[position["address"]])
        except AddressError as exc:
            report.rejected.append(RejectedRow(line, str(exc)))
            continue
        label = values[position["label"]].strip()
        if not label:
            report.rejected.append(RejectedRow(line, "the label is empty"))
            continue
        if len(label) > MAX_LABEL_LENGTH:
            report.rejected.append(
                RejectedRow(line, f"the label is longer than {MAX_LABEL_LENGTH} characters")
            )
            continue
        visibility = values[position["visibility"]].strip().lower() if "visibility" in position else ""
        visibility = visibility or default_visibility
        if visibility not in Visibility.values:
            report.rejected.append(
                RejectedRow(
                    line, f"visibility {visibility[:40]!r} is not one of {', '.join(Visibility.values)}"
                )
            )
            continue
        if (address, label) in seen:
            report.rejected.append(
                RejectedRow(line, f"repeats the address and label of line {seen[address, label]}")
            )
            continue
        seen[address, label] = line
        rows.append(_Row(line, address, label, visibility))
    return rows


def address_labels_import_csv(
    *,
    user,
    lines: Iterable[str],
    default_visibility: str = Visibility.ORG,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import labels from CSV text (an iterable of lines) into ``user``'s org; see the module doc.

    Raises :class:`ImportFileError` when the file as a whole is unreadable and ``PermissionDenied``
    when ``user`` may not create labels; otherwise returns the report (good rows are stored).
    """
    if not tenancy.can_create(user, AddressLabel):
        raise PermissionDenied("you may not create address labels")
    if default_visibility not in Visibility.values:
        raise ImportFileError(f"the default visibility is one of {', '.join(Visibility.values)}")
    report = ImportReport()
    rows = _parse(lines, default_visibility=default_visibility, report=report)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext('address_labels_import'), hashtext(%s))",
                [str(user.org_id)],
            )
        for start in range(0, len(rows), BATCH):
            _upsert_batch(user, rows[start : start + BATCH], report)
            if progress:
                progress(len(rows[start : start + BATCH]))
    report.rejected.sort(key=lambda rejected: rejected.line)
    return report


def _upsert_batch(user, rows: list[_Row], report: ImportReport) -> None:
    existing = {
        (label.address, label.label): label
        for label in AddressLabel.objects.filter(
            org_id=user.org_id, address__in={row.address for row in rows}
        ).only("id", "address", "label", "visibility", "user_id", "org_id")
    }
    changing = [
        existing[row.address, row.label].pk
        for row in rows
        if (row.address, row.label) in existing
        and existing[row.address, row.label].visibility != row.visibility
    ]
    editable = set(
        tenancy.editable_by(user, AddressLabel.objects.filter(pk__in=changing)).values_list("pk", flat=True)
    )
    to_create, to_update = [], []
    now = timezone.now()
    for row in rows:
        current = existing.get((row.address, row.label))
        if current is None:
            to_create.append(
                AddressLabel(
                    org_id=user.org_id,
                    user=user,
                    address=row.address,
                    label=row.label,
                    visibility=row.visibility,
                )
            )
        elif current.visibility == row.visibility:
            report.unchanged += 1
        elif current.pk in editable:
            current.visibility, current.updated_at = row.visibility, now
            to_update.append(current)
        else:
            report.rejected.append(
                RejectedRow(row.line, "this label exists with another visibility and you may not change it")
            )
    AddressLabel.objects.bulk_create(to_create)
    AddressLabel.objects.bulk_update(to_update, ["visibility", "updated_at"])
    report.created += len(to_create)
    report.updated += len(to_update)


def address_labels_import_file(
    *, user, file, default_visibility: str = Visibility.ORG, progress=None
) -> ImportReport:
    """``address_labels_import_csv`` over an uploaded or opened binary file (UTF-8, BOM allowed)."""
    try:
        text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
        return address_labels_import_csv(
            user=user, lines=text, default_visibility=default_visibility, progress=progress
        )
    except UnicodeDecodeError:
        raise ImportFileError("the file is not UTF-8 text") from None


def address_labels_lookup(*, user, addresses: list[str]) -> dict[str, list[dict]]:
    """The labels ``user`` may see on each of ``addresses`` (already normalised), in one query:
    stored address -> [{"label", "visibility", "org"}], every requested address present."""
    found: dict[str, list[dict]] = {address: [] for address in addresses}
    # One array parameter, not a thousand: compiling, binding and planning an IN list of a thousand
    # placeholders costs more than running the query.
    any_of = RawSQL("address_labels.address = ANY(%s::text[])", (addresses,), output_field=BooleanField())
    rows = (
        tenancy.visible_to(user, AddressLabel.objects.filter(any_of))
        .order_by("address", "label")
        .values_list("address", "label", "visibility", "org__slug")
    )
    for address, label, visibility, org in rows:
        found[address].append({"label": label, "visibility": visibility, "org": org})
    return found
