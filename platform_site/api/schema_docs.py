"""What the API docs say about each operation: a summary per operation, a description per resource
(tag) and examples for the requests integrations send most. A drf-spectacular post-processing hook,
so a new endpoint gets its summary without any code of its own; an ``extend_schema(summary=...)``
on the view still wins.
"""

from __future__ import annotations

import re

RESOURCE_DESCRIPTIONS = {
    "jobs": "Jobs turn input datasets into output datasets by running an operator; jobs sharing a "
    "dag_name form a DAG. Writes go through the same services as the admin.",
    "tasks": "One run of a job over some output partitions: pending → queued → running → succeeded "
    "| failed | cancelled. Cursor-paginated.",
    "task-inputs": "Which input partition versions each task read (lineage).",
    "column-lineage": "Which input columns feed which output columns.",
    "partitions": "The versioned catalog: the current version of each partition of each dataset.",
    "dataset-cursors": "Where incremental jobs are in their input.",
    "invalidations": "Mark a dataset, a partition or rows as needing a rebuild downstream.",
    "saved-queries": "SQL saved by users, with visibility private / org / public.",
    "query-results": "Runs of queries and where their results are. Cursor-paginated.",
    "alert-definitions": "Alert conditions and their channels.",
    "alert-events": "What fired. Cursor-paginated.",
    "alert-deliveries": "Each event's delivery to each channel, with retries. Cursor-paginated.",
    "address-labels": "Labels on chain addresses.",
    "orgs": "Tenants and their settings.",
    "users": "The org's users and their base roles.",
    "org-roles": "Org roles (on-call, analyst, …) and their members.",
    "org-role-memberships": "Who holds which org role.",
    "pii-access-log": "Every unmasked read of personal data (append-only).",
    "tokens": "API tokens of the current user: created (shown once), listed and revoked.",
}

VERBS = {
    "list": "List {plural}",
    "create": "Create {a} {singular}",
    "retrieve": "Get {a} {singular}",
    "update": "Replace {a} {singular}",
    "partial_update": "Update {a} {singular}",
    "destroy": "Delete {a} {singular}",
}

# Request examples for the writes integrations make most; keyed by operationId.
REQUEST_EXAMPLES = {
    "jobs_create": {
        "summary": "A DuckDB SQL job over the chain's transfers",
        "value": {
            "name": "whale_transfers",
            "dag_name": "whales",
            "activation": "reactive",
            "runtime": "sql",
            "operator": "duckdb_sql",
            "source": {"sql": "select * from input_0 where value > 1e21"},
            "input_datasets": ["evm.transfers"],
            "output_datasets": ["acme.whale_transfers"],
            "execution_strategy": "partitioned",
            "update_strategy": "replace",
            "scaling": {"max_concurrency": 4, "priority": 0, "batch_size": 1},
        },
    },
    "invalidations_create": {
        "summary": "Rebuild everything built from blocks past a reorg",
        "value": {
            "dataset": "acme.whale_transfers",
            "scope": "rows",
            "row_filter": {"block_number": {"gte": 18000000}},
        },
    },
    "saved_queries_create": {
        "summary": "A saved query the org can run",
        "value": {
            "name": "top tokens",
            "query": "select token, count(*) from evm.transfers group by 1",
            "visibility": "org",
        },
    },
    "tokens_create": {"summary": "A token for CI", "value": {"name": "ci"}},
}


def _singular(resource: str) -> str:
    words = resource.replace("-", " ")
    if words.endswith("ies"):
        return words[:-3] + "y"
    if words.endswith(("log", "lineage")):
        return words + " entry"
    return words[:-1] if words.endswith("s") else words


def describe_operations(result, generator, request, public):
    """Fill in missing summaries and tag descriptions, and add the request examples above."""
    used_tags = set()
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "operationId" not in operation:
                continue
            tags = operation.get("tags") or []
            used_tags.update(tags)
            resource = tags[0] if tags else path.strip("/").split("/")[-1]
            if not operation.get("summary"):
                operation["summary"] = _summary(operation["operationId"], resource, method)
            example = REQUEST_EXAMPLES.get(operation["operationId"])
            if example:
                for media in operation.get("requestBody", {}).get("content", {}).values():
                    media.setdefault("examples", {})["example"] = example
    result["tags"] = [
        {"name": tag, "description": RESOURCE_DESCRIPTIONS.get(tag, "")} for tag in sorted(used_tags)
    ]
    return result


CUSTOM_VERBS = {
    "list": "List",
    "create": "Add",
    "retrieve": "Get",
    "update": "Replace",
    "partial_update": "Update",
    "destroy": "Remove",
}


def _summary(operation_id: str, resource: str, method: str) -> str:
    singular = _singular(resource)
    article = "an" if singular[:1] in "aeio" else "a"
    prefix = resource.replace("-", "_")
    for action in sorted(VERBS, key=len, reverse=True):  # partial_update before update
        if not operation_id.endswith(f"_{action}"):
            continue
        middle = operation_id[len(prefix) + 1 : -len(action) - 1] if operation_id.startswith(prefix) else ""
        if not middle:
            return VERBS[action].format(plural=resource.replace("-", " "), singular=singular, a=article)
        # A custom action of the resource (``org_roles_members_create``): its name, in words.
        return f"{CUSTOM_VERBS[action]} {middle.replace('_', ' ')} of {article} {singular}"
    return f"{method.upper()} {re.sub(r'[_-]+', ' ', operation_id).strip()}"
