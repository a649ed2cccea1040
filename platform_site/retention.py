"""Retention: old records are deleted by each org's settings, a batch per short transaction.

Each app registers, from its ``AppConfig.ready()``, the rule that prunes its own tables
(:func:`register_rule`: finished tasks, alert deliveries and events, query results and their files),
and the orgs app registers where each org's retention settings come from
(:func:`register_org_settings`). This module runs every rule for every org, then prunes django-q2's
own task records older than ``Q_RETENTION_DAYS`` (setting, default 7).

Each batch (``RETENTION_BATCH_SIZE`` rows, default 1,000) is its own transaction, so no lock is
held longer than one batch takes and concurrent workers never wait on the pruning. Rows are deleted
through the ORM, so every foreign key (cascades, ``SET NULL``) is honoured.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_q.models import Task as QTask

log = logging.getLogger(__name__)

# ``prune(org_id, org_settings, now)`` -> rows deleted per kind.
Prune = Callable[[object, dict, datetime], dict[str, int]]


@dataclass(frozen=True)
class Rule:
    """What one app deletes for an org: ``kinds`` names the counts it reports, in report order;
    ``around_run`` (optional) sets up, once per run, what every org's pruning reads."""

    kinds: tuple[str, ...]
    prune: Prune
    order: int
    around_run: Callable[[], AbstractContextManager] | None


_RULES: list[Rule] = []
_org_settings: list[Callable[[], Iterable[tuple[object, dict]]]] = []


def register_rule(
    kinds: tuple[str, ...],
    prune: Prune,
    *,
    order: int = 0,
    around_run: Callable[[], AbstractContextManager] | None = None,
) -> None:
    """Rules run by ``order`` (then by registration) for each org, and report in that order."""
    _RULES.append(Rule(tuple(kinds), prune, order, around_run))


def register_org_settings(source: Callable[[], Iterable[tuple[object, dict]]]) -> None:
    """``source()`` yields ``(org_id, effective settings)`` for every org whose records age out."""
    _org_settings[:] = [source]


def _batch_size() -> int:
    return max(1, int(settings.RETENTION_BATCH_SIZE))


def delete_in_batches(model, select_sql: str, params: dict, *, on_batch=None) -> int:
    """Select up to a batch of ids with ``select_sql`` (``%(batch)s`` is the batch size), delete them
    in one transaction; repeat until none is left."""
    deleted = 0
    while True:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(select_sql, {**params, "batch": _batch_size()})
                ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                return deleted
            if on_batch:
                on_batch(ids)
            model.objects.filter(pk__in=ids).delete()
        deleted += len(ids)


def _prune_django_q(cutoff: datetime) -> int:
    return delete_in_batches(
        QTask,
        "SELECT id FROM django_q_task WHERE stopped < %(cutoff)s ORDER BY stopped LIMIT %(batch)s",
        {"cutoff": cutoff},
    )


def _orgs() -> Iterable[tuple[object, dict]]:
    for source in _org_settings:
        yield from source()


def retention_prune(*, now: datetime | None = None) -> dict[str, int]:
    """Delete what every org's retention settings let go; returns how many rows of each kind."""
    now = now or timezone.now()
    rules = sorted(_RULES, key=lambda rule: rule.order)
    counts: Counter[str] = Counter()
    with ExitStack() as run:
        for rule in rules:
            if rule.around_run is not None:
                run.enter_context(rule.around_run())
        for org_id, org_settings in _orgs():
            for rule in rules:
                counts.update(rule.prune(org_id, org_settings, now))
    counts["django_q_tasks"] += _prune_django_q(now - timedelta(days=settings.Q_RETENTION_DAYS))
    kinds = [kind for rule in rules for kind in rule.kinds] + ["django_q_tasks"]
    result = {kind: counts[kind] for kind in kinds}
    log.info("retention pruned %s", result, extra={"event": "retention", **result})
    return result
