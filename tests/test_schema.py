"""The migrated database matches the data model diagram exactly: tables, columns, types, keys."""

import re

import pytest
from django.db import connection

# The diagram (shared/seed/entity_relationship_diagram.md), entity by entity, as the test's data.
DIAGRAM = """
ORGS { uuid id PK; text name; text slug UK; jsonb settings; timestamptz created_at }
USERS { uuid id PK; uuid org_id FK; text external_id UK; text email; text role; timestamptz created_at }
ORG_ROLES { uuid id PK; uuid org_id FK; text slug; text name; timestamptz created_at }
ORG_ROLE_MEMBERSHIPS { uuid role_id PK; uuid user_id PK; timestamptz created_at }
JOBS { uuid id PK; uuid org_id FK; text name; text dag_name; text activation; text runtime; text operator;
  jsonb source; text execution_strategy; text idle_timeout; jsonb config; text config_hash;
  text[] input_datasets; text[] output_datasets; text update_strategy; text[] unique_key; jsonb scaling;
  int timeout_seconds; int heartbeat_timeout_seconds; int max_attempts; boolean active;
  timestamptz created_at; timestamptz updated_at }
TASKS { uuid id PK; uuid job_id FK; text status; text[] partitions; jsonb input_versions; text worker_id;
  timestamptz started_at; timestamptz completed_at; timestamptz last_heartbeat; int attempts;
  timestamptz next_retry_at; text error_message; jsonb outputs; timestamptz created_at }
TASK_INPUTS { uuid task_id PK; text input_dataset PK; text input_partition PK; timestamptz input_version }
COLUMN_LINEAGE { text output_dataset PK; text output_column PK; text input_dataset PK; text input_column PK;
  uuid job_id FK }
ADDRESS_LABELS { uuid id PK; uuid org_id FK; uuid user_id FK; text address; text label; text visibility;
  timestamptz created_at; timestamptz updated_at }
SAVED_QUERIES { uuid id PK; uuid org_id FK; uuid user_id FK; text name; text query; text visibility;
  timestamptz created_at; timestamptz updated_at }
QUERY_RESULTS { uuid id PK; uuid org_id FK; uuid user_id FK; uuid saved_query_id FK; uuid task_id FK;
  text mode; text status; text sql_hash; text output_format; text output_location; bigint row_count;
  bigint bytes; int duration_ms; text error_code; text error_message; timestamptz created_at;
  timestamptz updated_at }
ALERT_DEFINITIONS { uuid id PK; uuid org_id FK; uuid user_id FK; text name; jsonb condition; jsonb channels;
  text visibility; boolean enabled; timestamptz created_at; timestamptz updated_at }
ALERT_EVENTS { uuid id PK; uuid org_id FK; uuid alert_definition_id FK; uuid producer_job_id FK;
  uuid producer_task_id FK; text severity; bigint chain_id; text block_hash; text tx_hash;
  bigint block_number; text source_dataset; text partition_key; text cursor_value; jsonb payload;
  text dedupe_key; timestamptz created_at }
ALERT_DELIVERIES { uuid id PK; uuid org_id FK; uuid alert_event_id FK; text channel; text status;
  int attempt; timestamptz next_attempt_at; timestamptz leased_until; text lease_owner;
  timestamptz last_attempt_at; text provider_message_id; text error_message; timestamptz delivered_at;
  timestamptz created_at; timestamptz updated_at }
PARTITION_VERSIONS { text dataset PK; text partition_key PK; timestamptz version; text config_hash;
  text schema_hash; text location; bigint row_count; bigint bytes }
DATASET_CURSORS { text dataset PK; uuid job_id PK; text cursor_column; text cursor_value;
  timestamptz updated_at }
DATA_INVALIDATIONS { uuid id PK; text dataset; text scope; text partition_key; jsonb row_filter; text reason;
  jsonb source_event; timestamptz created_at; uuid[] processed_by; timestamptz processed_at }
PII_ACCESS_LOG { uuid id PK; uuid user_id FK; text dataset; text column_name; uuid record_id; text action;
  timestamptz accessed_at }
"""

# Where each foreign-key column of the diagram points.
FK_TARGETS = {
    "org_id": "orgs",
    "user_id": "users",
    "role_id": "org_roles",
    "job_id": "jobs",
    "task_id": "tasks",
    "saved_query_id": "saved_queries",
    "alert_definition_id": "alert_definitions",
    "alert_event_id": "alert_events",
    "producer_job_id": "jobs",
    "producer_task_id": "tasks",
}

# Diagram type -> (information_schema data_type, udt_name).
TYPES = {
    "uuid": ("uuid", "uuid"),
    "text": ("text", "text"),
    "jsonb": ("jsonb", "jsonb"),
    "timestamptz": ("timestamp with time zone", "timestamptz"),
    "int": ("integer", "int4"),
    "bigint": ("bigint", "int8"),
    "boolean": ("boolean", "bool"),
    "text[]": ("ARRAY", "_text"),
    "uuid[]": ("ARRAY", "_uuid"),
}

# Django's auth columns ride on top of the diagram's users table.
DJANGO_AUTH_COLUMNS = {"users": {"password", "last_login", "is_superuser", "is_staff", "is_active"}}


def parse_diagram(text: str) -> dict[str, list[tuple[str, str, str]]]:
    tables = {}
    for name, body in re.findall(r"(\w+) \{(.*?)\}", text, re.S):
        columns = []
        for entry in body.split(";"):
            parts = entry.split()
            columns.append((parts[1], parts[0], parts[2] if len(parts) > 2 else ""))
        tables[name.lower()] = columns
    return tables


TABLES = parse_diagram(DIAGRAM)


def fetch(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def constraint_columns(table: str, kind: str) -> list[set[str]]:
    rows = fetch(
        """
        SELECT tc.constraint_name, kcu.column_name
        FROM information_schema.table_constraints tc
        JOIN information_schema.key_column_usage kcu
          ON kcu.constraint_name = tc.constraint_name AND kcu.table_name = tc.table_name
        WHERE tc.table_name = %s AND tc.constraint_type = %s
        """,
        [table, kind],
    )
    grouped: dict[str, set[str]] = {}
    for name, column in rows:
        grouped.setdefault(name, set()).add(column)
    return list(grouped.values())


def test_diagram_has_eighteen_tables():
    assert len(TABLES) == 18


@pytest.mark.django_db
@pytest.mark.parametrize("table", sorted(TABLES))
def test_table_columns_and_types(table):
    actual = {
        name: (data_type, udt)
        for name, data_type, udt in fetch(
            "SELECT column_name, data_type, udt_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s",
            [table],
        )
    }
    assert actual, f"table {table} is missing"
    expected = {name: TYPES[kind] for name, kind, _ in TABLES[table]}
    assert set(actual) - DJANGO_AUTH_COLUMNS.get(table, set()) == set(expected)
    for name, kind in expected.items():
        assert actual[name] == kind, f"{table}.{name} is {actual[name]}, the diagram says {kind}"


@pytest.mark.django_db
@pytest.mark.parametrize("table", sorted(TABLES))
def test_primary_key(table):
    expected = {name for name, _, key in TABLES[table] if key == "PK"}
    assert constraint_columns(table, "PRIMARY KEY") == [expected]


@pytest.mark.django_db
@pytest.mark.parametrize("table", sorted(TABLES))
def test_unique_keys(table):
    expected = [{name} for name, _, key in TABLES[table] if key == "UK"]
    actual = constraint_columns(table, "UNIQUE")
    for unique in expected:
        assert unique in actual, f"{table}: no unique key on {unique}"


@pytest.mark.django_db
@pytest.mark.parametrize("table", sorted(TABLES))
def test_foreign_keys(table):
    actual = {
        (column, target)
        for column, target in fetch(
            """
            SELECT kcu.column_name, ccu.table_name
            FROM information_schema.table_constraints tc
            JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name
            JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = tc.constraint_name
            WHERE tc.table_name = %s AND tc.constraint_type = 'FOREIGN KEY'
            """,
            [table],
        )
    }
    foreign_key_columns = {name for name, _, key in TABLES[table] if key == "FK"}
    # Composite-key members that name another table are foreign keys too (role_id, user_id, task_id).
    foreign_key_columns |= {name for name, _, key in TABLES[table] if key == "PK" and name in FK_TARGETS}
    expected = {(column, FK_TARGETS[column]) for column in foreign_key_columns}
    assert expected <= actual, f"{table}: missing foreign keys {expected - actual}"


@pytest.mark.django_db
def test_no_table_outside_the_diagram_in_our_apps():
    from django.apps import apps

    ours = {"orgs", "orchestration", "versioning", "labels", "queries", "alerting", "pii"}
    own_tables = {
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_label in ours and not model._meta.auto_created
    }
    assert own_tables == set(TABLES)
