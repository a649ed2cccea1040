"""The admin index as a dashboard of how the platform is doing, scoped to the viewer's org
(superusers: every org).

The figures come from the apps that own the tables: each registers, from its ``AppConfig.ready()``,
the figures it computes (:func:`register_figure`), the charts drawn from them (:func:`register_chart`)
and the admin links the page points at (:func:`register_links`). This module only runs them and
caches the result, so it never needs to know another app's tables.

Every figure is one bounded statement on an index (a time window, a status, a LIMIT), so the page
costs the same at a million tasks as at ten; the figures are cached for ``CACHE_SECONDS`` per org,
which is as fresh as a dashboard needs to be.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

CACHE_SECONDS = 30

# ``compute(cursor, org_id, now)``: org_id is None for a superuser (every org).
FigureComputer = Callable[..., object]


@dataclass(frozen=True)
class Figure:
    name: str
    compute: FigureComputer


_FIGURES: dict[str, Figure] = {}
# Context name -> ``build(figures)``: chart data, cached with the figures it is drawn from.
_CHARTS: dict[str, Callable[[dict], str]] = {}
_LINKS: list[Callable[[], dict[str, str]]] = []


def register_figure(name: str, compute: FigureComputer) -> None:
    """``compute(cursor, org_id, now)`` returns the figure the page reads as ``figures.<name>``."""
    _FIGURES[name] = Figure(name, compute)


def register_chart(name: str, build: Callable[[dict], str]) -> None:
    """``build(figures)`` returns a chart's data (JSON, or "" for no chart) for the context's ``name``."""
    _CHARTS[name] = build


def register_links(links: Callable[[], dict[str, str]]) -> None:
    """``links()`` returns admin addresses (and chart options) the page reads as ``links.<name>``."""
    _LINKS.append(links)


def dashboard_callback(request, context):
    """unfold's DASHBOARD_CALLBACK: adds the figures to the index page's context."""
    user = request.user
    org_id = None if user.is_superuser else user.org_id
    figures = figures_for(org_id=org_id)
    context.update(
        {
            "figures": figures,
            **{name: figures[name] for name in _CHARTS},
            "links": _links(),
        }
    )
    return context


def figures_for(*, org_id, use_cache: bool = True) -> dict:
    key = f"chainlake:dashboard:{org_id or 'all'}"
    if use_cache and (cached := cache.get(key)) is not None:
        return cached
    figures = compute_figures(org_id=org_id, now=timezone.now())
    # The charts' data is cached with the figures: 1,440 minute labels are not free to build.
    for name, build in _CHARTS.items():
        figures[name] = build(figures)
    cache.set(key, figures, CACHE_SECONDS)
    return figures


def compute_figures(*, org_id, now: dt.datetime) -> dict:
    with connection.cursor() as cursor:
        return {
            "computed_at": now,
            **{figure.name: figure.compute(cursor, org_id, now) for figure in _FIGURES.values()},
        }


def _links() -> dict[str, str]:
    links: dict[str, str] = {}
    for provide in _LINKS:
        links.update(provide())
    return links
