"""Benchmark: task and alert-event lists through the API and the admin, on a big org.

Loads (once, with COPY) 1,000,000 tasks and 200,000 alert events into one org of a separate
``chainlake_bench_api`` database on the embedded server (or DATABASE_URL when set), then times the first
page and a deep page of each list through the API (keyset cursor, token auth) and through the admin
changelist (as the org's staff owner, so the tenancy scoping is part of what is measured), counts the
SQL queries per request at two page sizes, and compares each API page with the bare SQL of the same
page (the baseline, measured in the same run). It also times the admin dashboard for that org, with
every figure computed (its cache emptied first) and as served from its 30 s cache.

Usage: ``.venv/bin/python -m bench.api [--tasks N] [--events N] [--repeat N]``. The last line of
output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.bench_database import use_bench_database

ROOT = Path(__file__).resolve().parent.parent


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings")
os.environ.setdefault("LOG_LEVEL", "ERROR")

BENCH_DB = "chainlake_bench_api"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load(tasks: int, events: int):
    """Create the org, its users and jobs, and COPY the rows in unless they are already there."""
    import uuid_utils
    from django.db import connection

    from access.services import api_token_create
    from alerting.models import AlertDefinition
    from orchestration.models import Job
    from orgs.models import Org, User

    org, _ = Org.objects.get_or_create(slug="benchorg", defaults={"name": "Bench org"})
    Org.objects.get_or_create(slug="otherorg", defaults={"name": "Other org"})
    owner = User.objects.filter(external_id="owner@bench").first() or User.objects.create_user(
        "owner@bench", "bench-pw", org=org, role="owner", is_staff=True
    )
    jobs = [
        Job.objects.get_or_create(
            org=org,
            name=f"job{i}",
            defaults={"dag_name": "bench", "runtime": "sql", "operator": "duckdb_sql"},
        )[0]
        for i in range(10)
    ]
    definition, _ = AlertDefinition.objects.get_or_create(
        org=org, name="whales", defaults={"user": owner, "condition": {"dataset": "evm.logs"}}
    )
    now = datetime.now(UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM tasks t JOIN jobs j ON j.id = t.job_id WHERE j.org_id = %s", [org.pk]
        )
        have_tasks = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM alert_events WHERE org_id = %s", [org.pk])
        have_events = cursor.fetchone()[0]
    raw = connection.connection
    started = time.perf_counter()
    if have_tasks != tasks:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM tasks WHERE job_id = ANY(%s)", [[j.pk for j in jobs]])
        statuses = ["succeeded"] * 8 + ["failed", "running"]
        with (
            raw.cursor() as cursor,
            cursor.copy(
                "COPY tasks (id, job_id, status, partitions, input_versions, attempts, outputs, created_at)"
                " FROM STDIN"
            ) as copy,
        ):
            for i in range(tasks):
                copy.write_row(
                    (
                        str(uuid_utils.uuid7()),
                        str(jobs[i % 10].pk),
                        statuses[i % 10],
                        [f"blocks_{i:08d}"],
                        "{}",
                        1,
                        "[]",
                        now - timedelta(seconds=tasks - i),
                    )
                )
        print(f"loaded {tasks:,} tasks in {time.perf_counter() - started:.1f}s", flush=True)
    started = time.perf_counter()
    if have_events != events:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM alert_events WHERE org_id = %s", [org.pk])
        with (
            raw.cursor() as cursor,
            cursor.copy(
                "COPY alert_events (id, org_id, alert_definition_id, severity, chain_id, block_number,"
                " tx_hash, source_dataset, payload, dedupe_key, created_at) FROM STDIN"
            ) as copy,
        ):
            for i in range(events):
                copy.write_row(
                    (
                        str(uuid_utils.uuid7()),
                        str(org.pk),
                        str(definition.pk),
                        "warning",
                        1,
                        18_000_000 + i,
                        f"0x{i:064x}",
                        "evm.logs",
                        '{"value": 1}',
                        f"bench-{i}",
                        now - timedelta(seconds=events - i),
                    )
                )
        print(f"loaded {events:,} alert events in {time.perf_counter() - started:.1f}s", flush=True)
    raw.commit()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tasks; ANALYZE alert_events; ANALYZE jobs")
    token = api_token_create(user=owner, name="bench", expires_in=timedelta(hours=1))[1]
    return org, owner, token


def timed(call, repeat: int) -> list[float]:
    call()  # warm caches and connections
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def queries_of(call) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured)


def deep_cursor(table: str, org_field_sql: str, org_id, depth: int) -> str:
    """The cursor a client holds after paging ``depth`` rows into the list."""
    from django.db import connection

    from platform_site.api.pagination import KeysetPagination

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.created_at, t.id FROM {table} t {org_field_sql} ORDER BY t.created_at DESC, t.id DESC "
            "OFFSET %s LIMIT 1",
            [org_id, depth],
        )
        moment, pk = cursor.fetchone()
    return KeysetPagination._encode(moment, pk)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()

    use_bench_database(BENCH_DB, fresh=False)
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    settings.ALLOWED_HOSTS = ["*"]
    settings.DEBUG = False
    call_command("migrate", verbosity=0)
    org, owner, token = load(args.tasks, args.events)

    from rest_framework.throttling import UserRateThrottle

    UserRateThrottle.THROTTLE_RATES = {"user": "1000000/min", "anon": "1000000/min"}  # measure, not throttle

    api = Client(HTTP_AUTHORIZATION=f"Token {token}")
    staff = Client()
    staff.force_login(owner)

    job_join = "JOIN jobs j ON j.id = t.job_id AND j.org_id = %s"
    lists = {
        "tasks": ("/api/v1/tasks/", "/admin/orchestration/task/", "tasks", job_join),
        "alert_events": (
            "/api/v1/alert-events/",
            "/admin/alerting/alertevent/",
            "alert_events",
            "WHERE t.org_id = %s",
        ),
    }
    sizes = {"tasks": args.tasks, "alert_events": args.events}
    results, query_counts = {}, {}
    for name, (api_url, admin_url, table, org_sql) in lists.items():
        depth = int(sizes[name] * 0.9)
        cursor_value = deep_cursor(table, org_sql, org.pk, depth)

        def get(client, url, params, expect=200):
            response = client.get(url, params)
            assert response.status_code == expect, (url, response.status_code, response.content[:300])
            return response

        cases = {
            "api_first": lambda u=api_url: get(api, u, {"page_size": 50}),
            "api_deep": lambda u=api_url, c=cursor_value: get(api, u, {"page_size": 50, "cursor": c}),
            "admin_first": lambda u=admin_url: get(staff, u, {}),
            "admin_deep": lambda u=admin_url, p=depth // 50: get(staff, u, {"p": p}),
            # The same page with nothing remembered: where it starts is counted again each time.
            "admin_deep_cold": lambda u=admin_url, p=depth // 50: (cache.clear(), get(staff, u, {"p": p})),
        }
        # Baseline: the bare SQL of the API's deep page, no Django at all.
        moment_sql = (
            f"SELECT t.* FROM {table} t {org_sql} WHERE (t.created_at, t.id) < (%s, %s) "
            "ORDER BY t.created_at DESC, t.id DESC LIMIT 51"
        ).replace(f"{org_sql} WHERE", f"{org_sql} AND" if org_sql.startswith("WHERE") else f"{org_sql} WHERE")
        from platform_site.api.pagination import KeysetPagination

        moment, pk = KeysetPagination._decode(cursor_value)

        def bare_sql(sql=moment_sql, moment=moment, pk=pk):
            with connection.cursor() as cursor:
                cursor.execute(sql, [org.pk, moment, pk])
                cursor.fetchall()

        cases["sql_baseline"] = bare_sql
        for case, call in cases.items():
            samples = timed(call, args.repeat)
            results[(name, case)] = (statistics.median(samples), percentile(samples, 0.95))
        for size in (10, 100):
            query_counts[(name, "api", size)] = queries_of(
                lambda u=api_url, s=size: get(api, u, {"page_size": s})
            )
        # The changelist's page size is fixed by the admin class: count one page.
        query_counts[(name, "admin", 50)] = queries_of(cases["admin_first"])

    # The admin dashboard as the org's owner: every figure computed (its 30 s cache emptied before
    # each request), then as most requests see it (served from the cache).
    def dashboard(cold: bool):
        if cold:
            cache.delete(f"chainlake:dashboard:{org.pk}")
        response = staff.get("/admin/")
        assert response.status_code == 200 and b"card-tasks-per-minute" in response.content

    dashboard_cold = timed(lambda: dashboard(True), args.repeat)
    dashboard_warm = timed(lambda: dashboard(False), args.repeat)
    results[("dashboard", "computed")] = (statistics.median(dashboard_cold), percentile(dashboard_cold, 0.95))
    results[("dashboard", "cached")] = (statistics.median(dashboard_warm), percentile(dashboard_warm, 0.95))
    dashboard_queries = queries_of(lambda: dashboard(True))

    print(f"\n{'list':14} {'case':13} {'p50 ms':>8} {'p95 ms':>8} {'x baseline p95':>15}")
    for (name, case), (p50, p95) in results.items():
        base = results[(name if name in lists else "tasks", "sql_baseline")][1]
        print(f"{name:14} {case:13} {p50:8.1f} {p95:8.1f} {p95 / base:15.1f}")
    print("\nSQL queries per request:")
    for (name, surface, size), count in query_counts.items():
        print(f"  {name:14} {surface:6} page_size={size:<4} {count}")
    print(f"  dashboard, every figure computed: {dashboard_queries}")

    summary = {
        "bench": "api",
        "api_list_p95_ms": round(max(results[(n, "api_first")][1] for n in lists), 1),
        "api_deep_page_p95_ms": round(max(results[(n, "api_deep")][1] for n in lists), 1),
        "admin_changelist_p95_ms": round(max(results[(n, "admin_first")][1] for n in lists), 1),
        "admin_deep_page_p95_ms": round(max(results[(n, "admin_deep")][1] for n in lists), 1),
        "admin_deep_page_cold_p95_ms": round(max(results[(n, "admin_deep_cold")][1] for n in lists), 1),
        "sql_baseline_p95_ms": round(max(results[(n, "sql_baseline")][1] for n in lists), 1),
        "dashboard_p95_ms": round(results[("dashboard", "computed")][1], 1),
        "dashboard_cached_p95_ms": round(results[("dashboard", "cached")][1], 1),
        "dashboard_queries": dashboard_queries,
        "max_queries_per_request": max(query_counts.values()),
        "queries_constant_in_page_size": all(
            query_counts[(n, "api", 10)] == query_counts[(n, "api", 100)] for n in lists
        ),
        "tasks": args.tasks,
        "alert_events": args.events,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
