"""The condition DSL: one error per faulty field, parameterised SQL, exact uint256 comparisons."""

import duckdb
import pyarrow as pa
import pytest

from alerting.dsl import ConditionError, compile_condition, source_sql

SCHEMA = {
    "block_number": pa.int64(),
    "value": pa.string(),
    "to_address": pa.string(),
    "gas": pa.uint64(),
    "ratio": pa.float64(),
    "ok": pa.bool_(),
    "at": pa.timestamp("s", tz="UTC"),
}
VALUES = ["0", "7", "99", "100", "101", str(2**128), str(2**256 - 1), "0x10", "0100", None]


def matching(where, table=None) -> list:
    """Values of ``value`` whose rows match ``where`` when the compiled SQL runs in DuckDB."""
    if table is None:
        table = pa.table(
            {
                "block_number": list(range(len(VALUES))),
                "value": VALUES,
                "to_address": ["0xabc" if i % 2 else None for i in range(len(VALUES))],
                "gas": list(range(len(VALUES))),
                "ratio": [i / 2 for i in range(len(VALUES))],
                "ok": [i % 3 == 0 for i in range(len(VALUES))],
                "at": pa.array([1_700_000_000 + i for i in range(len(VALUES))], pa.int64()).cast(
                    pa.timestamp("s", tz="UTC")
                ),
            }
        )
    condition = compile_condition({"dataset": "x.y", "where": where}, SCHEMA)
    con = duckdb.connect()
    con.register("t", table)
    rows = con.execute(
        f"SELECT value FROM {source_sql('t', condition.uint_columns)} WHERE {condition.predicate.sql}",
        condition.predicate.params,
    ).fetchall()
    return [r[0] for r in rows]


def errors_of(condition) -> dict:
    with pytest.raises(ConditionError) as caught:
        compile_condition(condition, SCHEMA)
    return caught.value.errors


def test_uint256_strings_compare_as_numbers_at_any_width():
    assert matching({"column": "value", "op": "gt", "value": "100"}) == ["101", str(2**128), str(2**256 - 1)]
    assert matching({"column": "value", "op": "gte", "value": 2**128}) == [str(2**128), str(2**256 - 1)]
    assert matching({"column": "value", "op": "lt", "value": 100}) == ["0", "7", "99"]
    assert matching({"column": "value", "op": "eq", "value": 2**256 - 1}) == [str(2**256 - 1)]
    assert matching({"column": "value", "op": "between", "value": ["7", "100"]}) == ["7", "99", "100"]
    # Not canonical decimal strings ("0x10", "0100") never match a numeric comparison.
    assert "0x10" not in matching({"column": "value", "op": "gte", "value": 0})
    assert "0100" not in matching({"column": "value", "op": "gte", "value": 0})


def test_null_semantics_and_not():
    assert None not in matching({"column": "value", "op": "ne", "value": "7"})
    assert None in matching({"not": {"column": "value", "op": "eq", "value": "7"}})
    assert matching({"column": "to_address", "op": "is_null", "value": True}) == VALUES[0::2]
    assert matching(
        {
            "all": [
                {"column": "to_address", "op": "starts_with", "value": "0xa"},
                {"column": "gas", "op": "in", "value": [1, 3]},
            ]
        }
    ) == ["7", "100"]
    assert matching(
        {"any": [{"column": "ok", "op": "eq", "value": True}, {"column": "ratio", "op": "gte", "value": 4}]}
    ) == [
        "0",
        "100",
        str(2**256 - 1),
        "0100",
        None,
    ]
    assert matching({"column": "at", "op": "lt", "value": "2023-11-14T22:13:22+00:00"}) == ["0", "7"]


def test_values_are_parameters_never_sql():
    hostile = "x' OR '1'='1"
    condition = compile_condition(
        {"dataset": "x.y", "where": {"column": "to_address", "op": "eq", "value": hostile}}, SCHEMA
    )
    assert hostile not in condition.predicate.sql and hostile in condition.predicate.params
    assert matching({"column": "to_address", "op": "contains", "value": hostile}) == []


def test_one_error_per_faulty_field():
    errors = errors_of(
        {
            "dataset": "x.y",
            "where": {
                "all": [
                    {"column": "nope", "op": "eq", "value": 1},
                    {"column": "value", "op": "like", "value": "1"},
                    {"column": "gas", "op": "eq", "value": "abc"},
                    {"column": "value", "op": "in", "value": []},
                    {"any": []},
                ]
            },
            "confirmations": -1,
            "severity": "loud",
            "dedupe": ["nope"],
            "extra": 1,
        }
    )
    assert "unknown column 'nope'" in errors["where.all[0].column"]
    assert "unknown op 'like'" in errors["where.all[1].op"]
    assert "integer" in errors["where.all[2].value"]
    assert "non-empty list" in errors["where.all[3].value"]
    assert "non-empty list" in errors["where.all[4].any"]
    assert set(errors) >= {"confirmations", "severity", "dedupe", "condition"}


def test_depth_and_shape_limits():
    node = {"column": "gas", "op": "eq", "value": 1}
    for _ in range(20):
        node = {"not": node}
    assert "deeper" in " ".join(errors_of({"dataset": "x.y", "where": node}).values())
    assert errors_of({"dataset": "x.y"})["where"]
    assert errors_of({"dataset": "x.y", "where": {"column": "gas", "op": "gt"}})["where.value"]
    assert "confirmations need a block_number" in errors_of_no_block()


def errors_of_no_block() -> str:
    schema = {k: v for k, v in SCHEMA.items() if k != "block_number"}
    with pytest.raises(ConditionError) as caught:
        compile_condition(
            {"dataset": "x.y", "where": {"column": "gas", "op": "gt", "value": 1}, "confirmations": 3}, schema
        )
    return caught.value.errors["confirmations"]
