"""Address labels: names that people and imports give to chain addresses, with visibility."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Now
from django.utils import timezone

from labels.addresses import (
    EVM_ADDRESS_STORED_SQL,
    AddressError,
    evm_address_checksummed,
    evm_address_normalize,
)
from orgs.models import Org, User, Visibility
from platform_site.db import choices_check


class AddressLabel(models.Model):
    """A label on a chain address. EVM addresses are stored lower-case (shown checksummed, EIP-55).

    The natural key is (address, org, label): an address may carry several labels, each once per
    org; visibility is an attribute of the label, so a CSV import upserts on that key. The unique
    index leads with the address, which is what lookups of many addresses search by.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    org = models.ForeignKey(Org, on_delete=models.CASCADE, related_name="address_labels")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="address_labels")
    address = models.TextField()
    label = models.TextField()
    visibility = models.TextField(choices=Visibility.choices, default=Visibility.ORG)
    created_at = models.DateTimeField(default=timezone.now, db_default=Now(), editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "address_labels"
        ordering = ["address", "label"]
        constraints = [
            choices_check("address_labels", "visibility", Visibility),
            models.CheckConstraint(
                condition=models.Q(address__regex=EVM_ADDRESS_STORED_SQL),
                name="address_labels_address_stored_form",
            ),
        ]
        indexes = [
            models.Index(fields=["org", "address"], name="address_labels_org_addr_idx"),
            models.Index(
                fields=["address"],
                name="address_labels_public_idx",
                condition=models.Q(visibility="public"),
            ),
        ]

    def __str__(self) -> str:
        return f"{evm_address_checksummed(self.address)} = {self.label}"

    @property
    def address_checksummed(self) -> str:
        return evm_address_checksummed(self.address)

    def clean_fields(self, exclude=None) -> None:
        # Normalised before the field checks, so every path through full_clean (admin, API, import)
        # stores the lower-case form or reports why the text is not an address.
        errors: dict = {}
        exclude = list(exclude or [])
        if "address" not in exclude:
            try:
                self.address = evm_address_normalize(self.address)
            except AddressError as exc:
                errors["address"] = [str(exc)]
                exclude.append("address")
        if isinstance(self.label, str):
            self.label = self.label.strip()
        try:
            super().clean_fields(exclude=exclude)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)
