"""Masking at the source: the expressions a view replaces personal columns with, on a real sandbox."""

from __future__ import annotations

import pytest

from pii.masking import mask_value
from pii.registry import Strategy
from pii.sql_masking import HASH_FUNCTION, masked_expression, masked_select
from versioning import duckdb_sandbox as sandbox

SAMPLES = ["jane@example.com", "x", "@leading", "no-at-sign", "ünï@cödé.org", "", None, "a@b@c"]


@pytest.fixture
def con():
    connection = sandbox.sandbox_session(sandbox.SandboxLimits())
    yield connection
    connection.close()


@pytest.mark.parametrize("strategy", list(Strategy))
def test_sql_masking_matches_the_python_masking(con, strategy):
    rows = con.execute(
        f"SELECT {masked_expression('v', strategy)} FROM (SELECT unnest($samples) AS v)",
        {"samples": SAMPLES},
    ).fetchall()
    assert [row[0] for row in rows] == [mask_value(value, strategy) for value in SAMPLES]


def test_non_text_columns_are_masked_as_text(con):
    rows = con.execute(f"SELECT {masked_expression('v', 'partial')} FROM (SELECT 12345 AS v)").fetchall()
    assert rows == [("1***",)]


HOSTILE_SHAPES = [
    "SELECT list(email) FROM people",
    "SELECT p FROM people p",
    "SELECT COLUMNS('e.*') FROM people",
    "SELECT {'e': email} FROM people",
    "SELECT [email] FROM people",
    "SELECT struct_pack(e := email) FROM people",
    "SELECT email::BLOB FROM people",
    "SELECT unhex(hex(email)) FROM people",
    "SELECT email::JSON FROM people",
    "SELECT to_json(p) FROM people p",
    "SELECT string_agg(email, ',') FROM people",
]


@pytest.mark.parametrize("shape", HOSTILE_SHAPES)
def test_no_shape_of_sql_reads_the_raw_value(con, shape):
    con.execute(
        "CREATE TEMP VIEW people AS "
        + masked_select(
            "(SELECT 'jane@example.com' AS email, 'Jane Doe' AS full_name, 1 AS id)",
            columns=["email", "full_name", "id"],
            personal={"email": Strategy.HASH, "full_name": Strategy.REDACT},
        )
    )
    try:
        text = str(con.execute(shape).fetchall())
    except Exception as exc:  # an error may quote the value it failed on: the masked one
        text = str(exc)
    assert "jane@example.com" not in text and "Jane" not in text


@pytest.mark.parametrize(
    "shape",
    [
        "SELECT CAST(email AS INT) FROM people",
        "SELECT error(email) FROM people",
        "SELECT strptime(email, '%Y') FROM people",
    ],
)
def test_errors_carry_only_masked_values(con, shape):
    con.execute(
        "CREATE TEMP VIEW people AS "
        + masked_select(
            "(SELECT 'jane@example.com' AS email)", columns=["email"], personal={"email": "partial"}
        )
    )
    with pytest.raises(Exception) as raised:
        con.execute(shape).fetchall()
    assert "jane@example.com" not in str(raised.value)
    assert "j***@example.com" in str(raised.value)


def test_unmasked_columns_stay_raw_and_others_masked(con):
    sql = masked_select(
        "(SELECT 'jane@example.com' AS Email, 'Jane' AS name)",
        columns=["Email", "name"],
        personal={"email": Strategy.REDACT, "name": Strategy.REDACT},
        unmasked={"EMAIL"},
    )
    assert con.execute(sql).fetchall() == [("jane@example.com", "[redacted]")]


def test_user_sql_may_not_call_the_masking_function():
    with pytest.raises(sandbox.SqlRejected) as refused:
        sandbox.parse_read_only(f"SELECT {HASH_FUNCTION}('guess@example.com')")
    assert refused.value.code == "forbidden_statement"
