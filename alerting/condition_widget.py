"""The guided builder of an alert definition's condition in the admin.

The field stays what it was: one JSON text box, posted as the condition and checked by the
definition services on save. Around it, a local script draws a builder (a dataset the user may read,
rows of column / operator / value, match all or any, severity, confirmations, dedupe and payload
columns) that writes the JSON into the box, and loads the box into the builder when it can show it
whole. What it cannot show (nested all/any/not) stays in the JSON view, untouched. Without
JavaScript the box, the help and the examples are the whole widget.

The columns of a dataset come from :func:`condition_columns_view`, an admin JSON view that answers
only for datasets the user may read.
"""

from __future__ import annotations

import json

from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from platform_site.admin_widgets import JsonEditor

from .dsl import OPS
from .models import Severity
from .selectors import condition_columns, watchable_datasets

# What a new definition starts from: the shape to fill in, not ``null``.
NEW_CONDITION = {"dataset": "", "where": {"all": []}, "severity": Severity.WARNING.value}

# The operators the condition checker accepts on a column of each kind (``alerting.dsl.column_kind``).
# On a string column the order operators compare uint256 amounts written as whole numbers.
_COMPARISONS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "between", "is_null")
OPS_BY_KIND: dict[str, tuple[str, ...]] = {
    "string": (*_COMPARISONS, "contains", "starts_with"),
    "integer": _COMPARISONS,
    "number": _COMPARISONS,
    "timestamp": _COMPARISONS,
    "boolean": ("eq", "ne", "is_null"),
    "other": ("is_null",),
}
OP_LABELS = {
    "eq": "equals",
    "ne": "does not equal",
    "gt": "is greater than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "in": "is one of",
    "not_in": "is none of",
    "between": "is between",
    "is_null": "is empty (NULL)",
    "contains": "contains",
    "starts_with": "starts with",
}

WATCHED_ADDRESS = "0x000000000000000000000000000000000000dead"
EXAMPLES = [
    {
        "title": "Transfers of more than 1,000 tokens (of 18 decimals)",
        "condition": {
            "dataset": "evm.transfers",
            "where": {"all": [{"column": "value", "op": "gt", "value": "1000000000000000000000"}]},
            "severity": "warning",
            "payload": ["from_address", "to_address", "token_address", "value"],
        },
    },
    {
        "title": "Any transfer from or to a watched address, once 12 blocks deep",
        "condition": {
            "dataset": "evm.transfers",
            "where": {
                "any": [
                    {"column": "from_address", "op": "in", "value": [WATCHED_ADDRESS]},
                    {"column": "to_address", "op": "in", "value": [WATCHED_ADDRESS]},
                ]
            },
            "confirmations": 12,
            "severity": "critical",
        },
    },
]


class ConditionBuilder(JsonEditor):
    """The condition's JSON box with the guided builder around it, for the datasets ``user`` reads."""

    template_name = "alerting/widgets/condition_builder.html"

    class Media:
        js = ["alerting/condition_builder.js"]
        css = {"all": ["alerting/condition_builder.css"]}

    def __init__(self, attrs=None, *, user=None):
        super().__init__({"rows": 12, **(attrs or {})})
        self.user = user

    def format_value(self, value):
        # The form field renders a missing condition as the text "null".
        if value is None or value == "null":
            value = json.dumps(NEW_CONDITION)
        return super().format_value(value)

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["builder"] = {
            "datasets": watchable_datasets(self.user),
            "severities": list(Severity.values),
            "examples": [
                {"title": e["title"], "json": json.dumps(e["condition"], indent=2)} for e in EXAMPLES
            ],
            "config": {
                "columnsUrl": reverse("admin:alerting_alertdefinition_condition_columns"),
                "opsByKind": OPS_BY_KIND,
                "opLabels": OP_LABELS,
                "ops": list(OPS),
            },
        }
        return context


@require_GET
def condition_columns_view(request):
    """``?dataset=ns.name``: its columns with their types and kinds. Staff only (it is served behind
    the admin's login); a dataset the user may not read answers like one that does not exist."""
    dataset = request.GET.get("dataset", "")
    try:
        columns = condition_columns(request.user, dataset)
    except OSError:
        return JsonResponse({"error": "the dataset's schema could not be read from the lake"}, status=503)
    if columns is None:
        return JsonResponse({"error": "no dataset you may read has this name and partitions"}, status=404)
    return JsonResponse({"dataset": dataset, "columns": columns})
