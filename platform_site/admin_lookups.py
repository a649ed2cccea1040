"""Checks the admin's query-string filters before they reach the database.

A changelist or record table turns ``?field__lookup=value`` into an ORM filter. PostgreSQL refuses
some values only when the query runs (a NUL byte in text, a number past the column's range, a broken
regular expression), which is after the view returned and surfaces as a 500. Each value is checked
here against the model field it filters, the way the field would clean it, so a bad filter becomes a
message naming the parameter instead.
"""

from __future__ import annotations

from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.utils.encoding import force_str

# Parameters the changelist reads itself (page, ordering, search, popups, the error flag…); they are
# never turned into filters, and Django checks them on its own terms.
CHANGELIST_PARAMS = frozenset({"p", "o", "q", "e", "all", "_to_field", "_popup", "_changelist_filters"})

# Lookups whose value is not the field's type.
BOOLEAN_LOOKUPS = frozenset({"isnull"})
LIST_LOOKUPS = frozenset({"in", "range"})
# Lookups whose value is one (or a list) of the field's own values.
VALUE_LOOKUPS = frozenset({"exact", "gt", "gte", "lt", "lte"}) | LIST_LOOKUPS
# Date parts: small integers.
PART_LOOKUPS = frozenset(
    {
        "year",
        "iso_year",
        "month",
        "day",
        "week",
        "week_day",
        "iso_week_day",
        "quarter",
        "hour",
        "minute",
        "second",
    }
)
# A pattern PostgreSQL compiles at run time; the admin has no use for them.
REFUSED_LOOKUPS = frozenset({"regex", "iregex", "search", "trigram_similar", "unaccent"})


def nul_error(value: str) -> str | None:
    return "contains a NUL byte" if "\x00" in value else None


def resolve(model: type[models.Model], path: str) -> tuple[models.Field | None, list[str]]:
    """The field ``path`` ends on (following relations) and the lookup/transform names after it.
    ``(None, [])`` when the path names no field: Django refuses those itself."""
    field = None
    parts = path.split("__")
    current = model
    for index, part in enumerate(parts):
        if current is None:
            return field, parts[index:]
        try:
            field = current._meta.get_field(part)
        except FieldDoesNotExist:
            if field is None:
                # ``job_id``: the attname of a foreign key.
                for candidate in current._meta.concrete_fields:
                    if candidate.attname == part:
                        field = candidate
                        break
                else:
                    return None, []
                current = None
                continue
            return field, parts[index:]
        current = field.related_model if field.is_relation else None
    return field, []


def _target(field: models.Field) -> models.Field:
    """A relation compares values of the key it points at."""
    while field.is_relation and getattr(field, "target_field", None) is not None:
        if field.target_field is field:
            break
        field = field.target_field
    return field


def _check_value(field: models.Field, value: str) -> None:
    field = _target(field)
    if value == "" and field.empty_strings_allowed:
        return
    python_value = field.to_python(value)
    if python_value is None:
        return
    # Range validators (integers) and the like; not the field's own "blank"/"choices" rules: a filter
    # may ask for a value nobody stored.
    field.run_validators(python_value)


def value_error(model: type[models.Model], name: str, value: str) -> str | None:
    """Why filtering ``model`` by ``name=value`` cannot run, or None when it can."""
    if problem := nul_error(name) or nul_error(value):
        return problem
    field, lookups = resolve(model, name)
    if field is None:
        return None
    lookup = lookups[-1] if lookups else "exact"
    if lookup in REFUSED_LOOKUPS or any(part in REFUSED_LOOKUPS for part in lookups):
        return f"the lookup {lookup!r} is not offered here"
    if any(part in PART_LOOKUPS for part in lookups):
        try:
            part = int(value)
        except ValueError:
            return "is not a whole number"
        return None if -1 <= part <= 9999 else "is out of range"
    if lookup in BOOLEAN_LOOKUPS:
        return None if value.lower() in {"0", "1", "true", "false", ""} else "is not true or false"
    if lookup not in VALUE_LOOKUPS or isinstance(field, models.JSONField) or len(lookups) > 1:
        # Compared as text, inside a JSON document, or a filter's own parameter (``__isempty``):
        # any text without a NUL byte runs, or Django refuses it before the database sees it.
        return None
    values = value.split(",") if lookup in LIST_LOOKUPS else [value]
    try:
        for item in values:
            _check_value(field, item)
    except ValidationError as exc:
        return "; ".join(force_str(message) for message in exc.messages) or "is not a valid value"
    except (TypeError, ValueError):
        return "is not a valid value"
    return None


# Apps above this one refuse query-string paths of their own (pii: lookups, search and ordering on a
# masked personal field). Each guard takes (model admin, request, model, field path) and returns why
# the path may not be used on this page, or None.
LOOKUP_GUARDS: list = []


def register_lookup_guard(guard) -> None:
    if guard not in LOOKUP_GUARDS:
        LOOKUP_GUARDS.append(guard)


def guarded_path_error(model_admin, request, model: type[models.Model], path: str) -> str | None:
    for guard in LOOKUP_GUARDS:
        if problem := guard(model_admin, request, model, path):
            return problem
    return None


def _search_path(entry: str) -> str:
    return entry.lstrip("^=@")


def filter_errors(model: type[models.Model], params, ignore=CHANGELIST_PARAMS) -> dict[str, str]:
    """``{parameter: reason}`` for every query-string filter on ``model`` that cannot run."""
    errors = {}
    for name in params:
        if name in ignore:
            for value in params.getlist(name):
                if problem := nul_error(value):
                    errors[name] = problem
            continue
        for value in params.getlist(name):
            if problem := value_error(model, name, value):
                errors[name] = problem
                break
    return errors


def _is_key_value(field: models.Field, value) -> bool:
    try:
        _check_value(field, str(value))
    except (ValidationError, TypeError, ValueError):
        return False
    return True


class CheckedAutocompleteMixin:
    """Django's autocomplete widget looks the submitted value up when a form with errors renders
    again, and fails on one that is no key at all; such a value is simply not shown as chosen."""

    def optgroups(self, name, value, attr=None):
        key = self.field.remote_field.model._meta.pk
        to_field = getattr(self.field.remote_field, "field_name", None)
        if to_field:
            key = self.field.remote_field.model._meta.get_field(to_field)
        value = [v for v in value if v in (None, "") or _is_key_value(key, v)]
        return super().optgroups(name, value, attr)


class CheckedAutocompleteSelect(CheckedAutocompleteMixin, AutocompleteSelect):
    pass


class CheckedAutocompleteSelectMultiple(CheckedAutocompleteMixin, AutocompleteSelectMultiple):
    pass


CHECKED_WIDGETS = {
    AutocompleteSelect: CheckedAutocompleteSelect,
    AutocompleteSelectMultiple: CheckedAutocompleteSelectMultiple,
}


class CheckedFiltersAdminMixin:
    """A changelist whose filters cannot run shows the list without them and says why, instead of
    failing when the page renders. Search terms with a NUL byte find nothing."""

    def _ordering_paths(self, request, ordering: str) -> list[str]:
        """The field paths a changelist's ``?o=`` (indexes into list_display) sorts by."""
        display = list(self.get_list_display(request))
        fields = {field.name for field in self.model._meta.get_fields()}
        paths = []
        for part in ordering.split("."):
            try:
                entry = display[abs(int(part.lstrip("-")))]
            except (ValueError, IndexError):
                continue  # Django ignores what it cannot read
            path = getattr(entry, "admin_order_field", None) if not isinstance(entry, str) else entry
            if path is None and getattr(entry, "__name__", None) in fields:
                path = entry.__name__  # a column computed from a field (a masked one)
            if isinstance(path, str):
                paths.append(path.lstrip("-"))
        return paths

    def guarded_params(self, request) -> dict[str, str]:
        """``{parameter: reason}`` for filters and orderings a lookup guard refuses on this page."""
        refused = {}
        for name in request.GET:
            if name in CHANGELIST_PARAMS:
                continue
            if problem := guarded_path_error(self, request, self.model, name):
                refused[name] = problem
        for path in self._ordering_paths(request, request.GET.get("o", "")):
            if problem := guarded_path_error(self, request, self.model, path):
                refused["o"] = problem
        return refused

    def get_search_fields(self, request):
        # A guarded field (personal data on a masked page) is not searched: it would reveal its
        # value a substring at a time. The changelist says so when a search ran.
        return [
            entry
            for entry in super().get_search_fields(request)
            if not guarded_path_error(self, request, self.model, _search_path(entry))
        ]

    def get_list_filter(self, request):
        # A sidebar filter on a guarded field would list its values. An entry is a field path or
        # a (field path, filter class) pair; a SimpleListFilter class decides for itself.
        def path(entry):
            return entry if isinstance(entry, str) else entry[0] if isinstance(entry, (list, tuple)) else None

        return [
            entry
            for entry in super().get_list_filter(request)
            if not (path(entry) and guarded_path_error(self, request, self.model, path(entry)))
        ]

    def get_ordering(self, request):
        return [
            entry
            for entry in super().get_ordering(request) or ()
            if not (
                isinstance(entry, str) and guarded_path_error(self, request, self.model, entry.lstrip("-"))
            )
        ]

    def _unsearched(self, request) -> list[str]:
        searched = set(self.get_search_fields(request))
        declared = super().get_search_fields(request)
        return [_search_path(entry) for entry in declared if entry not in searched]

    def changelist_view(self, request, extra_context=None):
        from django.contrib import messages
        from django.http import HttpResponseRedirect

        errors = filter_errors(self.model, request.GET)
        refused = self.guarded_params(request)
        for name, reason in sorted(refused.items()):
            messages.error(request, f"{'Ordering' if name == 'o' else 'Filter ' + name} refused: {reason}.")
        errors = {**errors, **{name: None for name in refused}}
        if request.GET.get("q") and (unsearched := self._unsearched(request)):
            messages.warning(
                request,
                f"The search did not look in {', '.join(unsearched)}: personal data, masked on this page.",
            )
        if errors:
            for name, reason in sorted(errors.items()):
                if reason is not None:
                    messages.error(request, f"Filter {name} ignored: {reason}.")
            kept = request.GET.copy()
            for name in errors:
                kept.pop(name, None)
            query = kept.urlencode()
            return HttpResponseRedirect(request.path + (f"?{query}" if query else ""))
        return super().changelist_view(request, extra_context)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return _checked(super().formfield_for_foreignkey(db_field, request, **kwargs))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return _checked(super().formfield_for_manytomany(db_field, request, **kwargs))

    def get_changeform_initial_data(self, request):
        # ``add/?org=…`` pre-fills the form; a value its field cannot hold is left out, not rendered
        # into a widget that would look it up.
        initial = super().get_changeform_initial_data(request)
        return {
            name: value
            for name, value in initial.items()
            if not isinstance(value, str) or value_error(self.model, name, value) is None
        }

    def response_action(self, request, queryset):
        """An action over selected ids that are not ids of this model selects nothing."""
        from django.contrib import messages
        from django.contrib.admin import helpers

        pk_field = self.model._meta.pk
        for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
            if value_error(self.model, pk_field.name, value):
                messages.warning(request, "The selection holds something that is not an item of this list.")
                return None
        return super().response_action(request, queryset)

    def get_search_results(self, request, queryset, search_term):
        if nul_error(search_term):
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)


def _checked(formfield):
    if formfield is not None and type(formfield.widget) in CHECKED_WIDGETS:
        formfield.widget.__class__ = CHECKED_WIDGETS[type(formfield.widget)]
    return formfield
