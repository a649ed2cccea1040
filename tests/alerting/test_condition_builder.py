"""The guided condition builder of the admin: the columns view answers only for datasets the user
may read, the add page starts from a condition to fill in, a condition the builder makes saves as
it is, a bad one is a field error, and each operator it offers for a column kind is one the
condition checker accepts."""

import html
import json
import re

import pyarrow as pa
import pytest
from django.urls import reverse

from alerting.condition_widget import NEW_CONDITION, OP_LABELS, OPS_BY_KIND
from alerting.dsl import OPS, ConditionError, compile_condition
from alerting.models import AlertDefinition
from testkit.factories import OrgFactory, UserFactory
from tests.alerting.conftest import publish
from versioning.services import dataset_partition_write

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/alerting/alertdefinition/add/"
SECRET_DATASET = "zeta.whale_wallets"


@pytest.fixture
def catalog(platform, org):
    """evm.transfers (readable by every org) and a dataset of another org."""
    publish(0, 9)
    OrgFactory(slug="zeta")
    dataset_partition_write(
        dataset=SECRET_DATASET,
        partition_key="p0",
        table=pa.table({"wallet_secret_column": ["0x01"], "balance": [5]}),
    )


def columns_url(dataset: str) -> str:
    return reverse("admin:alerting_alertdefinition_condition_columns") + f"?dataset={dataset}"


def condition_box(response) -> str:
    """The text of the condition's JSON box as the page shows it."""
    found = re.search(r'<textarea name="condition"[^>]*>(.*?)</textarea>', response.content.decode(), re.S)
    assert found, "the page has no condition box"
    return html.unescape(found.group(1))


def test_columns_view_answers_columns_and_kinds_of_a_readable_dataset(catalog, member, client):
    client.force_login(member)
    response = client.get(columns_url("evm.transfers"))
    assert response.status_code == 200
    columns = {c["name"]: (c["type"], c["kind"]) for c in response.json()["columns"]}
    assert columns["value"] == ("string", "string")
    assert columns["block_number"][1] == "integer"
    assert columns["block_timestamp"][1] == "timestamp"
    assert list(columns)[:2] == ["chain_id", "block_number"]  # in the dataset's order


def test_columns_view_hides_another_orgs_dataset_like_an_unknown_one(catalog, member, client):
    client.force_login(member)
    other = client.get(columns_url(SECRET_DATASET))
    unknown = client.get(columns_url("acme.nothing_here"))
    assert other.status_code == unknown.status_code == 404
    assert other.json() == unknown.json()
    assert "wallet_secret_column" not in other.content.decode()
    assert client.get(columns_url("")).status_code == 404


def test_columns_view_refuses_non_staff_and_anonymous(catalog, org, client):
    response = client.get(columns_url("evm.transfers"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(UserFactory(org=org, role="member", is_staff=False))
    response = client.get(columns_url("evm.transfers"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert "block_number" not in response.content.decode()


def test_add_page_has_the_builder_with_readable_datasets_and_no_null(catalog, member, client):
    client.force_login(member)
    response = client.get(ADD_URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert "data-condition-builder" in page and "alerting/condition_builder.js" in page
    assert '<option value="evm.transfers">' in page
    assert SECRET_DATASET not in page  # another org's dataset is not offered
    assert json.loads(condition_box(response)) == NEW_CONDITION
    assert "transfers of more than 1,000 tokens" in page.lower()  # an example to start from


BUILT = {
    "dataset": "evm.transfers",
    "where": {
        "any": [
            {"column": "value", "op": "gt", "value": "1000000000000000000000"},
            {"column": "block_number", "op": "between", "value": [3, 7]},
            {"column": "to_address", "op": "in", "value": ["0x" + "0" * 40, "0x" + "0" * 39 + "1"]},
            {"column": "from_address", "op": "is_null", "value": False},
        ]
    },
    "severity": "critical",
    "confirmations": 2,
    "dedupe": ["transaction_hash", "log_index"],
    "payload": ["from_address", "to_address", "value"],
}


def form_data(org, condition: str) -> dict:
    return {
        "org": str(org.pk),
        "name": "Built",
        "condition": condition,
        "channel-TOTAL_FORMS": "0",
        "channel-INITIAL_FORMS": "0",
        "visibility": "org",
        "enabled": "on",
    }


def test_a_builder_made_condition_saves_and_shows_again_as_it_was(catalog, org, member, client):
    client.force_login(member)
    response = client.post(ADD_URL, form_data(org, json.dumps(BUILT, indent=2)))
    assert response.status_code == 302, response.context["adminform"].form.errors
    definition = AlertDefinition.objects.get(name="Built")
    assert definition.condition == BUILT
    page = client.get(reverse("admin:alerting_alertdefinition_change", args=[definition.pk]))
    assert json.loads(condition_box(page)) == BUILT


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (
            {
                "dataset": "evm.transfers",
                "where": {"all": [{"column": "block_number", "op": "contains", "value": "1"}]},
            },
            "contains compares a string column with a string",
        ),
        ({"dataset": "", "where": {"all": []}, "severity": "warning"}, "the dataset to watch"),
        ({"dataset": SECRET_DATASET, "where": {"all": []}}, "reads only its own and the system namespaces"),
        ([1, 2], "an object with dataset and where"),
        ("{not json", "Enter a valid JSON"),
    ],
)
def test_a_bad_condition_is_a_field_error(catalog, org, member, client, condition, message):
    client.force_login(member)
    text = condition if isinstance(condition, str) else json.dumps(condition)
    response = client.post(ADD_URL, form_data(org, text))
    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.errors.get("condition", []))
    assert message in errors
    assert "data-condition-builder" in response.content.decode()  # shown again, in the builder's box
    assert not AlertDefinition.objects.exists()


def value_for(kind: str, op: str):
    scalar = {"string": "0xab", "integer": 5, "number": 1.5, "timestamp": "2026-01-01T00:00:00+00:00"}
    if kind == "string" and op in ("gt", "gte", "lt", "lte", "between"):
        scalar = {"string": "1000"}  # order on a string column: a uint256 amount
    if op == "is_null":
        return True
    if kind == "boolean":
        return True
    value = scalar[kind]
    if op in ("in", "not_in"):
        return [value]
    if op == "between":
        return [value, value]
    return value


SCHEMA = {
    "a_string": pa.string(),
    "an_integer": pa.int64(),
    "a_number": pa.float64(),
    "a_time": pa.timestamp("us", tz="UTC"),
    "a_flag": pa.bool_(),
    "a_list": pa.list_(pa.int64()),
}
COLUMN_OF_KIND = {
    "string": "a_string",
    "integer": "an_integer",
    "number": "a_number",
    "timestamp": "a_time",
    "boolean": "a_flag",
    "other": "a_list",
}


def leaf_condition(kind: str, op: str, value) -> dict:
    return {"dataset": "t.t", "where": {"all": [{"column": COLUMN_OF_KIND[kind], "op": op, "value": value}]}}


@pytest.mark.parametrize("kind", sorted(OPS_BY_KIND))
def test_every_operator_offered_for_a_kind_is_accepted_by_the_checker(kind):
    assert set(OPS_BY_KIND[kind]) <= set(OPS)
    for op in OPS_BY_KIND[kind]:
        compile_condition(leaf_condition(kind, op, value_for(kind, op)), SCHEMA)


@pytest.mark.parametrize(
    ("kind", "op", "value"),
    [
        ("integer", "contains", "5"),
        ("number", "starts_with", "1"),
        ("timestamp", "contains", "2026"),
        ("boolean", "gt", True),
        ("other", "eq", 5),
    ],
)
def test_operators_the_checker_refuses_are_not_offered(kind, op, value):
    assert op not in OPS_BY_KIND[kind]
    with pytest.raises(ConditionError):
        compile_condition(leaf_condition(kind, op, value), SCHEMA)


def test_every_operator_has_a_label():
    assert set(OP_LABELS) == set(OPS)
