"""Benchmark: address-label lookup through the API, and label enrichment, with 1M labels stored.

Loads (once, with COPY) 1,000,000 address labels into a separate ``chainlake_bench_labels`` database
on the embedded server (or DATABASE_URL when set): labels of the measured org (``org`` and
``private``), public labels of another org, and ``org`` labels of that other org that the measured
org must never see. Then, in one run:

- **lookup**: ``POST /api/v1/address-labels/lookup/`` with 1,000 addresses (about half labelled),
  token-authenticated, as a member of the measured org; p50/p95 over ``--repeat`` requests, against
  the bare SQL of the same lookup (the baseline).
- **enrichment**: the ``address_labels`` operator's ``enrich`` (labels of the partition's distinct
  addresses fetched from PostgreSQL with the org's visibility rule, then joined onto two address
  columns) over a ``--rows`` transfers table, against the plain way to the same table: read the
  labels visible to the org from the label table (aggregated per address) and join them in DuckDB.
  Also printed: the DuckDB join alone with those labels already in memory, a lower bound that skips
  reading the labels at all. All three produce the same table (checked); none reads or writes
  Parquet (the operator's file I/O is the same for any implementation).

Usage: ``.venv/bin/python -m bench.labels [--labels N] [--rows N] [--repeat N]``. The last line of
output is one JSON object.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import time
from pathlib import Path

from bench.bench_database import use_bench_database

ROOT = Path(__file__).resolve().parent.parent


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings")
os.environ.setdefault("LOG_LEVEL", "ERROR")

BENCH_DB = "chainlake_bench_labels"


def address(n: int) -> str:
    """A deterministic, well-spread address for label number ``n``."""
    return "0x" + hashlib.sha1(str(n).encode()).hexdigest()


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load(labels: int):
    """The orgs, users and labels; the labels are COPYed in unless exactly that many are there.

    Label ``n`` is on address ``n``: 50% are the measured org's ``org`` labels, 10% its ``private``
    ones, 20% the other org's ``public`` ones, 20% the other org's ``org`` ones (never visible)."""
    from django.db import connection
    from django.utils import timezone

    from access.services import api_token_create
    from orgs.models import Org, User

    org, _ = Org.objects.get_or_create(slug="benchorg", defaults={"name": "Bench org"})
    other, _ = Org.objects.get_or_create(slug="otherorg", defaults={"name": "Other org"})
    member = User.objects.filter(external_id="member@bench").first() or User.objects.create_user(
        "member@bench", "bench-pw", org=org, role="member"
    )
    other_user = User.objects.filter(external_id="user@other").first() or User.objects.create_user(
        "user@other", "bench-pw", org=other, role="member"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM address_labels")
        have = cursor.fetchone()[0]
    if have != labels:
        now = timezone.now()
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE address_labels CASCADE")
        raw = connection.connection
        with (
            raw.cursor() as cursor,
            cursor.copy(
                "COPY address_labels (id, org_id, user_id, address, label, visibility, updated_at) FROM STDIN"
            ) as copy,
        ):
            for n in range(labels):
                bucket = n % 10
                if bucket < 5:
                    owner, by, visibility = org, member, "org"
                elif bucket == 5:
                    owner, by, visibility = org, member, "private"
                elif bucket < 8:
                    owner, by, visibility = other, other_user, "public"
                else:
                    owner, by, visibility = other, other_user, "org"
                copy.write_row(
                    (
                        hashlib.md5(f"label{n}".encode()).hexdigest(),
                        str(owner.pk),
                        str(by.pk),
                        address(n),
                        f"label {n}",
                        visibility,
                        now,
                    )
                )
        raw.commit()
        print(f"loaded {labels:,} labels in {time.perf_counter() - started:.1f}s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE address_labels")
    from datetime import timedelta

    token = api_token_create(user=member, name="bench", expires_in=timedelta(hours=1))[1]
    return org, member, token


def timed(call, repeat: int) -> list[float]:
    call()  # warm caches and connections
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def bench_lookup(org, member, token, labels: int, repeat: int) -> dict:
    from django.db import connection
    from django.test import Client
    from eth_utils import to_checksum_address

    from labels.addresses import evm_address_normalize

    rng = random.Random(7)
    api = Client(HTTP_AUTHORIZATION=f"Token {token}")

    def batch() -> list[str]:
        # Half existing addresses (of every kind), half never labelled; checksummed, as clients send.
        known = [address(rng.randrange(labels)) for _ in range(500)]
        unknown = [address(labels + rng.randrange(10 * labels)) for _ in range(500)]
        return [to_checksum_address(a) for a in known + unknown]

    batches = [batch() for _ in range(repeat + 1)]
    position = iter(range(len(batches) * 2))

    def through_api():
        body = json.dumps({"addresses": batches[next(position) % len(batches)]})
        response = api.post("/api/v1/address-labels/lookup/", body, content_type="application/json")
        assert response.status_code == 200, response.content[:300]
        return response

    found = sum(bool(r["labels"]) for r in through_api().json()["results"])
    api_ms = timed(through_api, repeat)

    # The bare SQL of the same lookup (the member's visibility rule, the same columns), no HTTP.
    sql_position = iter(range(len(batches) * 2))

    normalised = [[evm_address_normalize(a) for a in addresses] for addresses in batches]

    def bare_sql():
        addresses = normalised[next(sql_position) % len(batches)]
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT l.address, l.label, l.visibility, o.slug FROM address_labels l"
                " JOIN orgs o ON o.id = l.org_id WHERE l.address = ANY(%s)"
                " AND (l.visibility = 'public'"
                " OR (l.org_id = %s AND (l.visibility = 'org' OR l.user_id = %s)))"
                " ORDER BY l.address, l.label",
                [addresses, org.pk, member.pk],
            )
            return cursor.fetchall()

    sql_ms = timed(bare_sql, repeat)
    return {
        "addresses_with_labels": found,
        "api_p50": statistics.median(api_ms),
        "api_p95": percentile(api_ms, 0.95),
        "sql_p50": statistics.median(sql_ms),
        "sql_p95": percentile(sql_ms, 0.95),
    }


def transfers_table(rows: int, labels: int, pool: int):
    """``rows`` transfers between ``pool`` addresses, about half of them labelled."""
    import pyarrow as pa

    rng = random.Random(11)
    labelled = [address(n) for n in rng.sample(range(labels), pool // 2)]
    addresses = pa.array(labelled + [address(labels + n) for n in range(pool // 2)], pa.string())
    return pa.table(
        {
            "block_number": pa.array(range(rows), pa.int64()),
            "from_address": addresses.take(pa.array([rng.randrange(pool) for _ in range(rows)])),
            "to_address": addresses.take(pa.array([rng.randrange(pool) for _ in range(rows)])),
            "value": pa.array([rng.randrange(10**9) for _ in range(rows)], pa.int64()),
        }
    )


def bench_enrichment(org, table, repeat: int) -> dict:
    import duckdb
    import pyarrow as pa
    from django.db import connection

    from labels.operator import LABEL_SEPARATOR, enrich

    def operator():
        return enrich(table, address_columns=["from_address", "to_address"], org=org)

    con = duckdb.connect()
    con.register("transfers", table)
    join_sql = (
        "SELECT t.*, f.labels AS from_address_label, r.labels AS to_address_label FROM transfers t"
        " LEFT JOIN labels f ON f.address = t.from_address LEFT JOIN labels r ON r.address = t.to_address"
    )

    def visible_labels() -> pa.Table:
        # Every label visible to the org, aggregated per address: the label side of a plain join.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT address, string_agg(DISTINCT label, %s ORDER BY label) FROM address_labels"
                " WHERE visibility = 'public' OR (org_id = %s AND visibility = 'org') GROUP BY address",
                [LABEL_SEPARATOR, org.pk],
            )
            rows = cursor.fetchall()
        return pa.table({"address": [r[0] for r in rows], "labels": [r[1] for r in rows]})

    def join(labels: pa.Table) -> pa.Table:
        con.register("labels", labels)
        relation = con.sql(join_sql)
        # duckdb 2 names it to_arrow_table; 1.x had fetch_arrow_table.
        return (getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table)()

    def plain_join():
        """The baseline: the org's visible labels read from the label table, then a DuckDB join."""
        return join(visible_labels())

    in_memory = visible_labels()

    def plain_join_in_memory():
        """The join alone, labels already in DuckDB (a lower bound no PostgreSQL-backed label
        table can reach: it skips reading the labels)."""
        return join(in_memory)

    ours, theirs = operator(), plain_join()
    assert ours.sort_by("block_number").equals(theirs.sort_by("block_number")), "the two joins differ"
    operator_s = [ms / 1000 for ms in timed(operator, repeat)]
    plain_s = [ms / 1000 for ms in timed(plain_join, repeat)]
    in_memory_s = [ms / 1000 for ms in timed(plain_join_in_memory, repeat)]
    return {
        "rows": table.num_rows,
        "visible_labels": in_memory.num_rows,
        "operator_s": statistics.median(operator_s),
        "plain_s": statistics.median(plain_s),
        "in_memory_s": statistics.median(in_memory_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=1_000_000, help="transfers in the enriched table")
    parser.add_argument("--pool", type=int, default=100_000, help="distinct addresses among the transfers")
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()

    use_bench_database(BENCH_DB, fresh=False)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["*"]
    settings.DEBUG = False
    call_command("migrate", verbosity=0)
    org, member, token = load(args.labels)

    from rest_framework.throttling import UserRateThrottle

    UserRateThrottle.THROTTLE_RATES = {"user": "1000000/min", "anon": "1000000/min"}  # measure, not throttle

    lookup = bench_lookup(org, member, token, args.labels, args.repeat)
    print(
        f"lookup of 1,000 addresses ({lookup['addresses_with_labels']} labelled) through the API: "
        f"p50 {lookup['api_p50']:.1f} ms, p95 {lookup['api_p95']:.1f} ms (target p95 < 50 ms); "
        f"bare SQL of the same lookup: p50 {lookup['sql_p50']:.1f} ms, p95 {lookup['sql_p95']:.1f} ms "
        f"(ratio {lookup['api_p95'] / lookup['sql_p95']:.2f})",
        flush=True,
    )

    table = transfers_table(args.rows, args.labels, args.pool)
    enrichment = bench_enrichment(org, table, max(3, args.repeat // 8))
    enrich_rate = enrichment["rows"] / enrichment["operator_s"]
    plain_rate = enrichment["rows"] / enrichment["plain_s"]
    in_memory_rate = enrichment["rows"] / enrichment["in_memory_s"]
    print(
        f"enrichment of {enrichment['rows']:,} transfers ({args.pool:,} distinct addresses, two address "
        f"columns; {enrichment['visible_labels']:,} labels visible to the org): operator "
        f"{enrich_rate:,.0f} rows/s ({enrichment['operator_s']:.3f} s); plain DuckDB join of the visible "
        f"labels read from the label table {plain_rate:,.0f} rows/s ({enrichment['plain_s']:.3f} s), ratio "
        f"{enrich_rate / plain_rate:.2f} (target >= 0.8); the join alone with the labels already in "
        f"DuckDB {in_memory_rate:,.0f} rows/s ({enrichment['in_memory_s']:.3f} s), ratio "
        f"{enrich_rate / in_memory_rate:.2f}",
        flush=True,
    )
    print(
        json.dumps(
            {
                "bench": "labels",
                "labels": args.labels,
                "lookup_1000_p95_ms": round(lookup["api_p95"], 2),
                "lookup_1000_p50_ms": round(lookup["api_p50"], 2),
                "lookup_bare_sql_p95_ms": round(lookup["sql_p95"], 2),
                "enrich_rows_per_s": round(enrich_rate),
                "plain_join_rows_per_s": round(plain_rate),
                "enrich_ratio": round(enrich_rate / plain_rate, 3),
                "plain_join_in_memory_rows_per_s": round(in_memory_rate),
                "enrich_ratio_in_memory": round(enrich_rate / in_memory_rate, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
