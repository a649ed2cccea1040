"""The platform's admin site, with read-only "record tables" for composite-key models.

Django 5.2's admin cannot register a model whose primary key is composite (``partition_versions``,
``task_inputs``, ``column_lineage``, ``dataset_cursors``, ``org_role_memberships``). Staff still
need to browse them, so each gets a :class:`RecordTable`: a filterable, paginated, read-only list
served inside the admin and listed on the index under its app like any other model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps

from django.contrib import admin, messages
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import models
from django.db.models.base import ModelBase
from django.http import HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.cache import patch_cache_control
from django.utils.text import capfirst
from unfold.sites import UnfoldAdminSite

from . import tenancy
from .admin_display import display_cell
from .admin_lookups import value_error

# Records the engine writes (task runs, alert events and deliveries, query results): staff read them
# and act on them through actions that call services, never through an add or change form that could
# set a finished task back to ``running`` or invent an alert.
ENGINE_OWNED_MODELS = frozenset(
    {"orchestration.task", "alerting.alertevent", "alerting.alertdelivery", "queries.queryresult"}
)

# Far enough for any real browsing, small enough that the offset stays inside PostgreSQL's bigint.
MAX_RECORD_PAGE = 1_000_000


@dataclass(frozen=True)
class RecordTable:
    """A read-only admin list of a model: exact-match filters on ``filters``, newest-first order.

    Paging asks the database for one row more than a page instead of counting the table, so a
    catalog of millions of partitions pages as fast as one of ten.
    """

    model: type[models.Model]
    columns: tuple[str, ...]
    filters: tuple[str, ...] = ()
    ordering: tuple[str, ...] = ()
    select_related: tuple[str, ...] = ()
    page_size: int = 100
    prefix_filters: tuple[str, ...] = field(default=())

    @property
    def url_name(self) -> str:
        return f"{self.model._meta.app_label}_{self.model._meta.model_name}_records"

    def filter_errors(self, params) -> dict[str, str]:
        """``{filter: reason}`` for the given filter values that cannot run (a non-uuid id, a NUL
        byte, a number out of range): the table then lists nothing and says why."""
        errors = {}
        for name in self.filters:
            if value := params.get(name):
                lookup = f"{name}__startswith" if name in self.prefix_filters else name
                if problem := value_error(self.model, lookup, value):
                    errors[name] = problem
        return errors

    def queryset(self, request, params) -> models.QuerySet:
        # Scoped like every admin list: the tenancy registry decides which rows the user sees.
        queryset = tenancy.visible_to(request.user, self.model._default_manager.all())
        if self.select_related:
            queryset = queryset.select_related(*self.select_related)
        for name in self.filters:
            if value := params.get(name):
                lookup = f"{name}__startswith" if name in self.prefix_filters else name
                queryset = queryset.filter(**{lookup: value})
        return queryset.order_by(*self.ordering) if self.ordering else queryset


@dataclass(frozen=True)
class TenancyAdmin:
    """How a registration is scoped: ``scoped(model, admin_class)`` for a model with a tenancy scope,
    ``superuser_only(admin_class)`` for one without."""

    scoped: Callable[[type[models.Model], type[admin.ModelAdmin]], type[admin.ModelAdmin]]
    superuser_only: Callable[[type[admin.ModelAdmin]], type[admin.ModelAdmin]]


_tenancy_admin: list[TenancyAdmin] = []
# Registrations made before the tenancy admin is known: the admin modules load with the admin app,
# ahead of the app that provides it; they join the site once it does, and never unscoped.
_waiting: list[tuple[PlatformAdminSite, object, object, dict]] = []


def register_tenancy_admin(*, scoped, superuser_only) -> None:
    """The app that owns the tenancy roles hands the site its admin classes from its
    ``AppConfig.ready()``; registrations made before then are completed here."""
    _tenancy_admin[:] = [TenancyAdmin(scoped, superuser_only)]
    waiting, _waiting[:] = list(_waiting), []
    for site, model_or_iterable, admin_class, options in waiting:
        site.register(model_or_iterable, admin_class, **options)


class PlatformAdminSite(UnfoldAdminSite):
    site_header = "Chainlake"
    site_title = "Chainlake admin"
    index_title = "Platform administration"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.record_tables: list[RecordTable] = []
        self.pages: list = []
        from .admin_login import LoginForm  # the theme's forms need the app registry

        self.login_form = LoginForm

    def register(self, model_or_iterable, admin_class=None, **options):
        """Every registration is scoped: models with a tenancy scope get the org-scoped mixin,
        models without one (auth groups, the task queue, library tables) are superuser-only."""
        # Imported here: this module loads with the admin app, before models are ready.
        from .admin_theme import themed_admin_class

        if not _tenancy_admin:
            _waiting.append((self, model_or_iterable, admin_class, options))
            return
        tenancy_admin = _tenancy_admin[0]
        models_ = [model_or_iterable] if isinstance(model_or_iterable, ModelBase) else model_or_iterable
        for model in models_:
            # The theme's base class goes under every admin; tenancy goes on top of both.
            base = themed_admin_class(admin_class or admin.ModelAdmin)
            if model._meta.swapped:
                continue  # e.g. knox's stock token model, replaced by access.ApiToken
            if model._meta.label_lower in ENGINE_OWNED_MODELS:
                base = engine_owned_admin_class(base)
            wrapped = (
                tenancy_admin.scoped(model, base)
                if tenancy.has_scope(model)
                else tenancy_admin.superuser_only(base)
            )
            super().register(model, wrapped, **options)

    def i18n_javascript(self, request, extra_context=None):
        # The admin's JavaScript catalog only changes with the code: let browsers keep it a day.
        response = super().i18n_javascript(request, extra_context)
        patch_cache_control(response, max_age=86400, private=True)
        return response

    def register_records(self, table: RecordTable) -> None:
        if not tenancy.has_scope(table.model):
            raise ImproperlyConfigured(
                f"{table.model._meta.label} has no tenancy scope; add one to its selectors.py"
            )
        self.record_tables.append(table)

    def admin_view(self, view, cacheable=False):
        """Every admin view refuses a NUL byte in its path or parameters: PostgreSQL cannot hold
        one in text, so no page could answer it with anything but an error."""
        checked = _refusing_nul_bytes(view)
        return super().admin_view(checked, cacheable)

    def _can_browse_records(self, request) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def register_page(self, route: str, view, name: str) -> None:
        """An app's own page with no model behind it, at ``/admin/<route>``, behind the admin's
        login like every admin view (``admin:<name>``)."""
        self.pages.append(path(route, self.admin_view(view), name=name))

    def get_urls(self):
        if _waiting:
            raise ImproperlyConfigured(
                "admin registrations wait for a tenancy admin; an app must call register_tenancy_admin()"
            )
        record_urls = [
            path(
                f"records/{table.model._meta.app_label}/{table.model._meta.model_name}/",
                self.admin_view(self._record_view(table)),
                name=table.url_name,
            )
            for table in self.record_tables
        ]
        return record_urls + self.pages + super().get_urls()

    def _record_view(self, table: RecordTable):
        def view(request):
            opts = table.model._meta
            if not self._can_browse_records(request):
                raise PermissionDenied
            try:
                page = min(MAX_RECORD_PAGE, max(1, int(request.GET.get("page", "1"))))
            except ValueError:
                page = 1
            offset = (page - 1) * table.page_size
            errors = table.filter_errors(request.GET)
            for name, reason in sorted(errors.items()):
                messages.error(request, f"Filter {name}: {reason}.")
            if errors:
                rows = []
            else:
                rows = list(table.queryset(request, request.GET)[offset : offset + table.page_size + 1])
            has_next = len(rows) > table.page_size
            prefixed = ", ".join(_filter_label(opts, name).lower() for name in table.prefix_filters)
            rows = rows[: table.page_size]
            context = {
                **self.each_context(request),
                "title": capfirst(opts.verbose_name_plural),
                # Not "opts": the theme's header would link the model's (missing) changelist.
                "record_opts": opts,
                "content_title": capfirst(opts.verbose_name_plural),
                "breadcrumbs": [
                    {
                        "title": opts.app_config.verbose_name,
                        "link": reverse("admin:app_list", kwargs={"app_label": opts.app_label}),
                    },
                    {"title": capfirst(opts.verbose_name_plural)},
                ],
                "intro": "Read-only, newest first. Filters match exactly"
                + (f" (or by prefix for {prefixed})." if prefixed else "."),
                "table": table,
                "headers": [capfirst(opts.get_field(name).verbose_name) for name in table.columns],
                "rows": [[_cell(row, name, opts) for name in table.columns] for row in rows],
                "filters": [
                    (name, _filter_label(opts, name), request.GET.get(name, "")) for name in table.filters
                ],
                "page": page,
                "previous_query": _with_page(request.GET, page - 1) if page > 1 else None,
                "next_query": _with_page(request.GET, page + 1) if has_next else None,
            }
            return TemplateResponse(
                request, "admin/record_table.html", context, status=400 if errors else 200
            )

        return view

    def _build_app_dict(self, request, label=None):
        app_dict = super()._build_app_dict(request, label)
        for table in self.record_tables:
            opts = table.model._meta
            if label and opts.app_label != label:
                continue
            if not self._can_browse_records(request):
                continue
            entry = {
                "model": table.model,
                "name": capfirst(opts.verbose_name_plural),
                "object_name": opts.object_name,
                "perms": {"view": True},
                "admin_url": reverse(f"admin:{table.url_name}", current_app=self.name),
                "add_url": None,
                "view_only": True,
            }
            app = app_dict.setdefault(
                opts.app_label,
                {
                    "name": opts.app_config.verbose_name,
                    "app_label": opts.app_label,
                    "app_url": reverse("admin:app_list", kwargs={"app_label": opts.app_label}),
                    "has_module_perms": True,
                    "models": [],
                },
            )
            app["models"].append(entry)
        return app_dict


class EngineOwnedAdminMixin:
    """No add or change form; the change page shows the record read-only. Actions (retry, cancel)
    and deletes keep their own rules."""

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def engine_owned_admin_class(admin_class: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    if issubclass(admin_class, EngineOwnedAdminMixin):
        return admin_class
    return type(
        admin_class.__name__, (EngineOwnedAdminMixin, admin_class), {"__module__": admin_class.__module__}
    )


def _refusing_nul_bytes(view):
    @wraps(view)
    def checked(request, *args, **kwargs):
        if _has_nul(request):
            return HttpResponseBadRequest("A NUL byte is not accepted in an address or a form.")
        return view(request, *args, **kwargs)

    return checked


def _has_nul(request) -> bool:
    if "\x00" in request.path:
        return True
    for params in (request.GET, request.POST) if request.method == "POST" else (request.GET,):
        for name, values in params.lists():
            if "\x00" in name or any(isinstance(v, str) and "\x00" in v for v in values):
                return True
    return False


def _cell(row: models.Model, name: str, opts):
    # ``get_field`` knows a foreign key by its column name too (``task_id``).
    return display_cell(getattr(row, name), opts.get_field(name))


def _filter_label(opts, name: str) -> str:
    # ``get_field`` knows a foreign key by its column name too (``task_id``).
    return capfirst(opts.get_field(name).verbose_name)


def _with_page(query, page: int) -> str:
    params = query.copy()
    params["page"] = str(page)
    return params.urlencode()


class PlatformAdminConfig(AdminConfig):
    default_site = "platform_site.admin_site.PlatformAdminSite"
