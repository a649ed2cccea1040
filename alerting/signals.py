"""Keep each dataset's evaluator job in step when a definition is deleted (from any surface)."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from orgs.models import Org

from .models import AlertDefinition
from .services.definitions import evaluator_job_ensure


@receiver(post_delete, sender=AlertDefinition, dispatch_uid="alerting_definition_deleted")
def definition_deleted(sender, instance: AlertDefinition, **kwargs) -> None:
    dataset = instance.condition.get("dataset") if isinstance(instance.condition, dict) else None
    if isinstance(dataset, str) and dataset:
        org_id = instance.org_id
        transaction.on_commit(lambda: _pause_if_unwatched(org_id, dataset, evaluator_job_ensure))


def _pause_if_unwatched(org_id, dataset: str, ensure) -> None:
    org = Org.objects.filter(pk=org_id).first()
    if org is not None:
        ensure(org=org, dataset=dataset)
