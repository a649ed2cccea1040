"""Who sees and changes what: one registry of per-model scopes that every surface goes through.

Each app's ``selectors.py`` registers, for each of its models, how to narrow a queryset to what a user
may read (``visible``) and change or delete (``editable``), and whether the user may create one. The
admin (``orgs.admin_tenancy``), the API base viewset (``platform_site.api``) and background
code call :func:`visible_to` / :func:`editable_by` here, so a rule lives in one place per app.

Fail closed: a model nobody registered has no scope, and asking for one raises instead of returning
everything. Anonymous or inactive users see nothing; superusers see and change every org.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils.module_loading import autodiscover_modules

Action = Literal["change", "delete"]


@dataclass(frozen=True)
class Scope:
    model: type[models.Model]
    visible: Callable[..., models.QuerySet]
    editable: Callable[..., models.QuerySet]
    can_create: Callable[..., bool]
    # Path from the model to its org (``org``, ``job__org``); None when ownership is by dataset
    # namespace. On create the org is set from the user, never taken from input.
    org_field: str | None


_SCOPES: dict[type[models.Model], Scope] = {}
_discovered = False


def _nobody(user) -> bool:
    return False


def register_scope(
    model: type[models.Model],
    *,
    visible: Callable[..., models.QuerySet],
    editable: Callable[..., models.QuerySet],
    can_create: Callable[..., bool] = _nobody,
    org_field: str | None = "org",
) -> None:
    """``visible(user, queryset)``, ``editable(user, queryset, action)`` narrow a queryset for a
    non-superuser with an org; ``can_create(user)`` is the model-level right to add one."""
    _SCOPES[model] = Scope(model, visible, editable, can_create, org_field)


def _discover() -> None:
    global _discovered
    if not _discovered:
        autodiscover_modules("selectors")
        _discovered = True


def scope_for(model: type[models.Model]) -> Scope:
    _discover()
    try:
        return _SCOPES[model]
    except KeyError:
        raise ImproperlyConfigured(
            f"{model._meta.label} has no tenancy scope; register one in its app's selectors.py"
        ) from None


def has_scope(model: type[models.Model]) -> bool:
    _discover()
    return model in _SCOPES


def scoped_models() -> list[type[models.Model]]:
    _discover()
    return list(_SCOPES)


def _queryset(model_or_queryset) -> models.QuerySet:
    if isinstance(model_or_queryset, models.QuerySet):
        return model_or_queryset
    return model_or_queryset._default_manager.all()


def _acts(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def visible_to(user, model_or_queryset) -> models.QuerySet:
    """The rows of ``model_or_queryset`` that ``user`` may read."""
    queryset = _queryset(model_or_queryset)
    scope = scope_for(queryset.model)
    if not _acts(user):
        return queryset.none()
    if user.is_superuser:
        return queryset
    return scope.visible(user, queryset)


def editable_by(user, model_or_queryset, action: Action = "change") -> models.QuerySet:
    """The rows of ``model_or_queryset`` that ``user`` may change (or delete, with ``action``)."""
    queryset = _queryset(model_or_queryset)
    scope = scope_for(queryset.model)
    if not _acts(user):
        return queryset.none()
    if user.is_superuser:
        return queryset
    return scope.editable(user, scope.visible(user, queryset), action)


def can_create(user, model: type[models.Model]) -> bool:
    scope = scope_for(model)
    if not _acts(user):
        return False
    return True if user.is_superuser else bool(scope.can_create(user))


def is_editable(user, obj: models.Model, action: Action = "change") -> bool:
    return editable_by(user, type(obj)._default_manager.filter(pk=obj.pk), action).exists()


def is_visible(user, obj: models.Model) -> bool:
    return visible_to(user, type(obj)._default_manager.filter(pk=obj.pk)).exists()
