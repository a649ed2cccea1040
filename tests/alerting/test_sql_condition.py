"""SQL conditions: checked by the sandbox on save, evaluated per partition over the dataset's view,
raising the same events as the equivalent DSL condition."""

import pytest
from django.core.exceptions import ValidationError

from alerting.models import AlertDefinition, AlertEvent
from alerting.services import alert_definition_backtest, alert_definition_create, alert_definition_test_fire
from orchestration import services as engine
from tests.alerting.conftest import DATASET, big_transfer_condition, publish
from tests.orchestration.conftest import drain
from versioning.models import DatasetCursor

pytestmark = pytest.mark.django_db

# Transfers of at least 10^20 wei, as canonical decimal strings: more digits, or as many and not less.
BIG_SQL = (
    f"SELECT * FROM {DATASET} "
    "WHERE length(value) > 21 OR (length(value) = 21 AND value >= '100000000000000000000')"
)


def sql_condition(sql: str = BIG_SQL, **extra) -> dict:
    condition = {key: value for key, value in big_transfer_condition(**extra).items() if key != "where"}
    return {**condition, "sql": sql}


def save_errors(org, member, condition) -> dict:
    with pytest.raises(ValidationError) as caught:
        alert_definition_create(org=org, user=member, name="sql", condition=condition)
    return caught.value.message_dict


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        (f"SELECT * FROM {DATASET}; SELECT * FROM {DATASET}", "exactly one SQL statement"),
        ("SELECT * FROM read_parquet('/etc/passwd')", "read_parquet is not accepted"),
        (f"DELETE FROM {DATASET}", "only SELECT / WITH"),
        ("SELECT * FROM evm.blocks", "reads evm.blocks; an SQL condition reads only its dataset"),
        ("SELECT * FROM other.secrets", "reads other.secrets"),
        (f"SELECT t.* FROM {DATASET} t JOIN acme.private p USING (block_number)", "reads acme.private"),
        (f"SELECT * FROM {DATASET} WHERE", "does not parse"),
        (f"SELECT * FROM {DATASET} WHERE nope > 1", "nope"),
        (f"SELECT value FROM {DATASET}", "missing: block_hash, block_number, chain_id"),
    ],
)
def test_save_refuses_bad_sql_as_a_field_error(platform, org, member, sql, message):
    publish(0, 9)
    errors = save_errors(org, member, sql_condition(sql))
    assert list(errors) == ["condition.sql"]
    assert message in errors["condition.sql"][0]
    assert not AlertDefinition.objects.exists()


def test_where_and_sql_are_exclusive(platform, org, member):
    publish(0, 9)
    errors = save_errors(org, member, {**big_transfer_condition(), "sql": f"SELECT * FROM {DATASET}"})
    assert "either where or sql" in errors["condition.sql"][0]


def test_sql_definition_raises_the_same_events_as_the_dsl_one(platform, org, member):
    publish(0, 9)
    dsl = alert_definition_create(org=org, user=member, name="dsl", condition=big_transfer_condition())
    sql = alert_definition_create(org=org, user=member, name="sql", condition=sql_condition())
    publish(100, 119)
    engine.plan_active_jobs()
    drain()

    def events(definition):
        return sorted(
            AlertEvent.objects.filter(alert_definition=definition).values_list(
                "block_number",
                "block_hash",
                "tx_hash",
                "chain_id",
                "severity",
                "partition_key",
                "payload__row",
            )
        )

    assert len(events(dsl)) == 22
    assert events(sql) == events(dsl)
    # Re-evaluated from scratch over rewritten partitions: nothing new.
    publish(100, 119)
    DatasetCursor.objects.filter(job__operator="alert_evaluator").delete()
    engine.plan_active_jobs()
    drain()
    assert AlertEvent.objects.filter(alert_definition=sql).count() == 22


def test_sql_definition_honours_confirmations(platform, org, member):
    publish(0, 9)
    definition = alert_definition_create(
        org=org, user=member, name="deep", condition=sql_condition(confirmations=5)
    )
    publish(100, 109)  # head 109: up to block 104
    engine.plan_active_jobs()
    drain()
    blocks = set(
        AlertEvent.objects.filter(alert_definition=definition).values_list("block_number", flat=True)
    )
    assert blocks == set(range(100, 105))


def test_backtest_and_test_fire_of_an_sql_definition(platform, org, member):
    publish(0, 99)
    publish(100, 199, key_first=100)
    definition = alert_definition_create(org=org, user=member, name="bt", condition=sql_condition())
    result = alert_definition_backtest(
        definition=definition, reader=definition.user, first="blocks_00000100", last="blocks_00000100"
    )
    assert (result.partitions, result.rows_scanned, result.events) == (1, 200, 110)
    assert result.sample[0]["payload"]["row"].keys() == {"value", "from_address", "to_address"}
    assert alert_definition_backtest(definition=definition, reader=definition.user).events == 120
    assert not AlertEvent.objects.exists()
    event = alert_definition_test_fire(definition=definition, user=definition.user)
    assert event.payload["sample"] is True and event.block_number is not None


def test_an_sql_definition_failing_on_the_data_does_not_stop_the_others(platform, org, member):
    publish(0, 9)
    # Valid over the empty schema, but 2^256-1 does not cast to HUGEINT: fails on block 100's data.
    failing = sql_condition(f"SELECT * FROM {DATASET} WHERE CAST(value AS HUGEINT) > 0")
    broken = alert_definition_create(org=org, user=member, name="cast", condition=failing)
    dsl = alert_definition_create(org=org, user=member, name="dsl", condition=big_transfer_condition())
    publish(100, 109)
    engine.plan_active_jobs()
    drain()
    assert AlertEvent.objects.filter(alert_definition=dsl).count() == 11
    assert not AlertEvent.objects.filter(alert_definition=broken).exists()


def test_api_refuses_sql_reading_another_dataset_with_a_field_error(platform, org, member):
    from tests.alerting.test_surfaces import api, attrs

    publish(0, 9)
    response = api(member).post(
        "/api/v1/alert-definitions/",
        {"name": "x", "condition": sql_condition("SELECT * FROM evm.blocks")},
        format="json",
    )
    assert response.status_code == 400
    assert "reads only its dataset" in attrs(response)["condition.sql"]
    response = api(member).post(
        "/api/v1/alert-definitions/", {"name": "x", "condition": sql_condition()}, format="json"
    )
    assert response.status_code == 201, response.content
