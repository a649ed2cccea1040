"""The demo's saved queries: created once for the platform org, an admin's edit kept, and each one
runs over the demo chain's datasets."""

import datetime as dt
import io

import pyarrow as pa
from django.core.management import call_command

from orgs.models import platform_org
from queries.demo import DEMO_QUERIES
from queries.models import SavedQuery
from queries.services import query_execute
from testkit.factories import UserFactory
from versioning.storage import result_store

from .conftest import publish


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo_queries", stdout=out)
    return out.getvalue()


def transfers(hours: list[int]) -> pa.Table:
    count = len(hours)
    return pa.table(
        {
            "block_number": pa.array(range(count), pa.int64()),
            "block_timestamp": pa.array(
                [dt.datetime(2026, 12, 1, hour, tzinfo=dt.UTC) for hour in hours],
                pa.timestamp("ms", tz="UTC"),
            ),
            "token_address": pa.array(["0x" + "1" * 40] * count),
            "from_address": pa.array(["0x" + "a" * 40] * (count - 1) + ["0x" + "b" * 40]),
            "value": pa.array(["1"] * count),
        }
    )


def test_seeding_waits_for_a_superuser_then_creates_each_query_once(db):
    assert "skipped" in seed() and not SavedQuery.objects.exists()
    admin = UserFactory(org=platform_org(), is_staff=True, is_superuser=True)
    assert f"{len(DEMO_QUERIES)} saved queries" in seed()
    edited = SavedQuery.objects.get(name="Top senders (evm)")
    edited.query = "SELECT 1 AS edited"
    edited.save()
    seed()
    assert SavedQuery.objects.count() == len(DEMO_QUERIES)
    assert SavedQuery.objects.get(pk=edited.pk).query == "SELECT 1 AS edited"  # an edit is kept
    assert {q.org_id for q in SavedQuery.objects.all()} == {platform_org().pk}
    assert {q.user_id for q in SavedQuery.objects.all()} == {admin.pk}


def test_the_demo_queries_answer_over_the_demo_datasets(db):
    admin = UserFactory(org=platform_org(), is_staff=True, is_superuser=True)
    seed()
    publish("evm.transfers", "blocks_00000000", transfers([1, 1, 5, 15, 15, 15]))
    publish(
        "evm.daily_transfers_by_chain",
        "all",
        pa.table({"day": [dt.date(2026, 12, 1)], "chain_id": [1], "transfers": [6], "tokens": [1]}),
    )
    rows = {}
    for saved in SavedQuery.objects.all():
        result = query_execute(user=admin, saved_query=saved)
        assert result.status == "succeeded", (saved.name, result.error_message)
        rows[saved.name] = result_store().read_table(result.output_location).to_pylist()
    assert rows["Transfers per hour of day (evm)"] == [
        {"hour_utc": 1, "transfers": 2},
        {"hour_utc": 5, "transfers": 1},
        {"hour_utc": 15, "transfers": 3},
    ]
    assert rows["Top senders (evm)"][0] == {"from_address": "0x" + "a" * 40, "transfers": 5, "tokens": 1}
    assert rows["Transfers per day, both chains"][0]["transfers"] == 6
