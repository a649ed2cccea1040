"""Saving the platform org's settings syncs the ingestion jobs with the chain registry they hold.

Connected from ``ChainsConfig.ready``: orgs sits below chains and never imports it. The settings
were checked before the save (a bad registry never gets this far), so what can still go wrong is
one chain's job (another job already writes its namespace, say): that is logged with the chain
named, and ``manage.py chains sync`` reports it and exits non-zero.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import ValidationError

from chains.services import chains_sync
from orgs.models import Org

logger = logging.getLogger(__name__)


def sync_on_platform_save(sender, instance: Org, raw: bool = False, **kwargs) -> None:
    if raw or instance.slug != settings.PLATFORM_ORG_SLUG:
        return
    try:
        report = chains_sync(instance)
    except ValidationError as exc:
        logger.warning("chain registry not synced: %s", " ".join(exc.messages))
        return
    logger.info("chain registry synced: %s", report.summary())
