"""A row filter is checked against the dataset's schema on every surface (service, command, API,
admin): columns exist, values have the column's type, only the documented operators; an unknown
dataset is refused; ``verify_catalog`` refuses an unknown dataset and finds overlapping blocks."""

from datetime import UTC, datetime
from io import StringIO

import pyarrow as pa
import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from testkit.factories import OrgFactory, UserFactory
from versioning.models import DataInvalidation
from versioning.services import dataset_partition_write, invalidation_create

pytestmark = pytest.mark.django_db

TRANSFERS = pa.table(
    {
        "block_number": pa.array([10, 11, 12], pa.int64()),
        "token_address": pa.array(["0xa", "0xb", "0xa"]),
        "block_timestamp": pa.array(
            [
                datetime(2024, 1, 1, tzinfo=UTC),
                datetime(2024, 1, 2, tzinfo=UTC),
                datetime(2024, 1, 3, tzinfo=UTC),
            ],
            pa.timestamp("s", tz="UTC"),
        ),
        "removed": pa.array([False, False, True]),
    }
)

BAD_FILTERS = [
    ({"block_number": {"gte": "abc"}}, "not an integer"),
    ({"block_number": {"gte": True}}, "not an integer"),
    ({"block_number": {"in": [1, "x"]}}, "not an integer"),
    ({"nosuchcol": 1}, "unknown column"),
    ({"token_address": {"like": "0x%"}}, "unknown operator 'like'"),
    ({"token_address": 5}, "not a string"),
    ({"block_timestamp": {"gte": "yesterday"}}, "ISO 8601"),
    ({"removed": {"eq": "no"}}, "true or false"),
    ({"block_number": {"in": []}}, "non-empty list"),
    ({"block_number": {"gte": float("nan")}}, "finite"),
]


@pytest.fixture
def transfers():
    dataset_partition_write(dataset="acme.transfers", partition_key="p0", table=TRANSFERS)
    return "acme.transfers"


@pytest.mark.parametrize(("row_filter", "message"), BAD_FILTERS)
def test_the_service_refuses_a_filter_that_does_not_fit_the_schema(transfers, row_filter, message):
    with pytest.raises(ValidationError) as raised:
        invalidation_create(dataset=transfers, scope="rows", row_filter=row_filter)
    assert message in " ".join(raised.value.message_dict["row_filter"])
    assert not DataInvalidation.objects.exists()


def test_typed_filters_of_every_kind_are_recorded_and_cover_their_rows(transfers):
    from versioning.selectors import invalidation_covered_partitions

    for row_filter in (
        {"block_number": {"gte": 11, "lt": 13}},
        {"token_address": {"in": ["0xa", "0xc"]}},
        {"block_timestamp": {"gte": "2024-01-02T00:00:00"}},
        {"removed": True},
    ):
        invalidation = invalidation_create(dataset=transfers, scope="rows", row_filter=row_filter)
        assert invalidation_covered_partitions(invalidation=invalidation) == ["p0"]
    nothing = invalidation_create(
        dataset=transfers, scope="rows", row_filter={"block_timestamp": {"gt": "2024-02-01"}}
    )
    assert invalidation_covered_partitions(invalidation=nothing) == []


@pytest.mark.parametrize("dataset", ["nosuch.ds2", "nodot"])
def test_an_unknown_dataset_is_refused(dataset):
    with pytest.raises(ValidationError) as raised:
        invalidation_create(dataset=dataset, scope="dataset")
    assert "dataset" in raised.value.message_dict


def test_a_rows_invalidation_of_a_dataset_without_partitions_is_refused(db):
    from testkit.factories import sql_job

    sql_job(OrgFactory(slug="acme"), "empty", "SELECT 1 AS n", [], "acme.empty")
    invalidation_create(dataset="acme.empty", scope="dataset")  # known: a job writes it
    with pytest.raises(ValidationError, match="no partitions yet"):
        invalidation_create(dataset="acme.empty", scope="rows", row_filter={"n": 1})


def test_the_command_exits_non_zero_on_a_bad_filter_and_records_nothing(transfers):
    with pytest.raises(CommandError, match=r"row_filter: .*'abc' is not an integer"):
        call_command(
            "invalidate",
            transfers,
            "--scope",
            "rows",
            "--rows",
            '{"block_number": {"gte": "abc"}}',
            stdout=StringIO(),
        )
    with pytest.raises(CommandError, match=r"unknown dataset 'nosuch\.ds2'"):
        call_command("invalidate", "nosuch.ds2", "--scope", "dataset", stdout=StringIO())
    assert not DataInvalidation.objects.exists()


@pytest.fixture
def owner_api():
    owner = UserFactory(org=OrgFactory(slug="acme"), role="owner")
    client = APIClient()
    client.force_authenticate(owner)
    return client


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dataset": "acme.transfers", "scope": "rows", "row_filter": {"nosuchcol": 1}}, "row_filter"),
        (
            {"dataset": "acme.transfers", "scope": "rows", "row_filter": {"token_address": {"like": "x"}}},
            "row_filter",
        ),
        (
            {"dataset": "acme.transfers", "scope": "rows", "row_filter": {"block_number": {"gte": "abc"}}},
            "row_filter",
        ),
        ({"dataset": "acme.nosuch", "scope": "dataset"}, "dataset"),
    ],
)
def test_the_api_answers_400_with_the_field_and_records_nothing(transfers, owner_api, body, field):
    response = owner_api.post("/api/v1/invalidations/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in {error["attr"] for error in response.json()["errors"]}
    assert not DataInvalidation.objects.exists()


def test_the_api_records_a_valid_filter_through_the_service(transfers, owner_api):
    body = {
        "dataset": "acme.transfers",
        "scope": "rows",
        "row_filter": {"block_number": {"gte": 11}},
        "source_event": {"type": "manual", "superseded_partitions": ["forged"]},
    }
    response = owner_api.post("/api/v1/invalidations/", body, format="json")
    assert response.status_code == 201, response.content
    recorded = DataInvalidation.objects.get()
    # What the replaced files covered is computed by the platform, never taken from the caller.
    assert recorded.source_event == {"type": "manual"}


def test_the_admin_form_shows_the_error_on_the_field_and_records_nothing(transfers, admin_client):
    url = reverse("admin:versioning_datainvalidation_add")
    form = {
        "dataset": transfers,
        "scope": "rows",
        "partition_key": "",
        "row_filter": '{"block_number": {"gte": "abc"}}',
        "reason": "",
        "source_event": "{}",
    }
    response = admin_client.post(url, form)
    assert response.status_code == 200
    assert "is not an integer" in response.content.decode()
    assert not DataInvalidation.objects.exists()

    response = admin_client.post(url, {**form, "row_filter": '{"block_number": {"gte": 11}}'})
    assert response.status_code == 302
    recorded = DataInvalidation.objects.get()
    assert recorded.row_filter == {"block_number": {"gte": 11}}
    assert (
        admin_client.get(reverse("admin:versioning_datainvalidation_change", args=[recorded.pk])).status_code
        == 200
    )


def test_verify_catalog_refuses_an_unknown_dataset(db):
    with pytest.raises(CommandError, match=r"unknown dataset 'nope\.nope'"):
        call_command("verify_catalog", "--dataset", "nope.nope", stdout=StringIO(), stderr=StringIO())


def test_verify_catalog_finds_blocks_current_in_two_partitions(db):
    blocks = pa.table({"block_number": pa.array(range(0, 10), pa.int64())})
    dataset_partition_write(dataset="evm.blocks", partition_key="blocks_00000000", table=blocks.slice(0, 5))
    dataset_partition_write(dataset="evm.blocks", partition_key="blocks_00000005", table=blocks.slice(5, 5))
    # Partitions by token share blocks by design: only block-range partitions must not overlap.
    dataset_partition_write(dataset="acme.by_token", partition_key="0xa", table=blocks)
    dataset_partition_write(dataset="acme.by_token", partition_key="0xb", table=blocks)
    out = StringIO()
    call_command("verify_catalog", stdout=out, stderr=StringIO())
    assert "catalog matches storage" in out.getvalue()

    # A wider layout's partition beside the old ones: blocks 0..9 are current twice.
    dataset_partition_write(dataset="evm.blocks", partition_key="blocks_00000000", table=blocks)
    err = StringIO()
    with pytest.raises(CommandError, match="1 partition problem"):
        call_command("verify_catalog", stdout=StringIO(), stderr=err)
    assert "blocks_00000005: block_number 5..9 overlaps partition blocks_00000000" in err.getvalue()
