"""Personal columns are masked where DuckDB reads them: no shape of SQL carries a raw value out, and
an unmasked run leaves raw (and logs) exactly the personal columns its statement reads."""

from __future__ import annotations

import pyarrow as pa
import pytest

from pii.masking import keyed_hash, partial
from pii.models import PiiAccessLog
from queries.models import QueryResult
from testkit.factories import UserFactory

from .conftest import publish
from .test_personal_data import EXECUTE, client_for, rows_of, unmasker

RAW = ("jane@example.com", "Jane Doe", "joe@example.org", "Joe Bloggs")


@pytest.fixture
def people(settings, org_a):
    settings.PII_DATASET_COLUMNS = {
        "acme.people": {"email": "hash", "full_name": "redact", "phone": "partial"}
    }
    publish(
        "acme.people",
        "all",
        pa.table(
            {
                "id": [1, 2],
                "email": ["jane@example.com", "joe@example.org"],
                "full_name": ["Jane Doe", "Joe Bloggs"],
                "phone": ["+15550001", "+15550002"],
                "city": ["Oslo", "Lima"],
            }
        ),
    )
    return "acme.people"


def run(user, sql: str, **body):
    return client_for(user).post(EXECUTE, {"sql": sql, **body}, format="json")


def leaks(text: str) -> bool:
    return any(value in text for value in RAW) or "+1555000" in text


HOSTILE = [
    "SELECT list(email) FROM acme.people",
    "SELECT p FROM acme.people p",
    "SELECT to_json(p) FROM acme.people AS p",
    "SELECT COLUMNS('e.*') FROM acme.people",
    "SELECT COLUMNS(*) FROM acme.people",
    "SELECT {'e': email} AS s FROM acme.people",
    "SELECT [email, full_name] AS l FROM acme.people",
    "SELECT map([email], [full_name]) AS m FROM acme.people",
    "SELECT row(email, full_name) AS r FROM acme.people",
    "SELECT struct_pack(e := email) AS s FROM acme.people",
    "SELECT email::BLOB AS b FROM acme.people",
    "SELECT unhex(hex(email)) AS u FROM acme.people",
    "SELECT email::JSON AS j FROM acme.people",
    "SELECT string_agg(full_name, ',') AS s FROM acme.people",
    "SELECT * EXCLUDE (id) FROM acme.people",
    "SELECT p.* FROM acme.people p",
    "WITH x AS (SELECT * FROM acme.people) SELECT x FROM x",
    "SELECT reverse(reverse(email)) AS e FROM acme.people",
    "SELECT phone FROM acme.people",
]


@pytest.mark.parametrize("sql", HOSTILE)
def test_no_shape_of_sql_returns_a_raw_personal_value(people, analyst, sql):
    response = run(analyst, sql)
    assert response.status_code in (201, 400), response.data
    assert not leaks(str(response.data)), response.data
    if response.status_code == 201:
        result = QueryResult.objects.get(pk=response.data["id"])
        for form in ("csv", "json", "parquet"):
            download = client_for(analyst).get(f"/api/v1/query-results/{result.pk}/download/?as={form}")
            if download.status_code == 200:
                body = b"".join(download.streaming_content)
                if form == "parquet":
                    import io

                    import pyarrow.parquet as pq

                    body = str(pq.read_table(io.BytesIO(body)).to_pylist()).encode()
                assert not leaks(body.decode()), form
            else:  # nested values do not convert to CSV: refused, and the refusal leaks nothing
                assert not leaks(str(download.data))
    assert not PiiAccessLog.objects.exists()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT CAST(email AS INT) FROM acme.people",
        "SELECT error(full_name) FROM acme.people",
        "SELECT strptime(full_name, '%Y') FROM acme.people",
        "SELECT CAST(phone AS DATE) FROM acme.people",
    ],
)
def test_errors_carry_no_raw_personal_value(people, analyst, sql):
    response = run(analyst, sql)
    assert response.status_code in (201, 400), response.data
    text = str(response.data)
    if response.status_code == 201:  # a failed run is a result with its error
        result = QueryResult.objects.get(pk=response.data["id"])
        assert result.status == QueryResult.Status.FAILED
        text += result.error_message
    assert not leaks(text), text


def test_oracles_see_only_the_masked_value(people, analyst):
    found = run(analyst, "SELECT count(*) AS n FROM acme.people WHERE email = 'jane@example.com'")
    assert rows_of(found) == [{"n": 0}]
    like = run(analyst, "SELECT count(*) AS n FROM acme.people WHERE full_name LIKE 'Ja%'")
    assert rows_of(like) == [{"n": 0}]
    measured = run(analyst, "SELECT length(full_name) AS n, unicode(phone) AS u FROM acme.people ORDER BY id")
    assert rows_of(measured) == [
        {"n": len("[redacted]"), "u": ord("+")},
        {"n": len("[redacted]"), "u": ord("+")},
    ]
    hashed = run(analyst, "SELECT email FROM acme.people ORDER BY email")
    expected = sorted([keyed_hash("jane@example.com"), keyed_hash("joe@example.org")])
    assert [row["email"] for row in rows_of(hashed)] == expected
    assert (
        run(analyst, "SELECT hash(email) AS h FROM acme.people WHERE id = 1").data["rows"]
        != run(analyst, "SELECT hash('jane@example.com') AS h").data["rows"]
    )


def test_masked_values_still_join_and_group(people, analyst):
    response = run(
        analyst,
        "SELECT a.id FROM acme.people a JOIN acme.people b ON a.email = b.email ORDER BY a.id",
    )
    assert [row["id"] for row in rows_of(response)] == [1, 2]


def logged(result_id) -> set[tuple[str, str]]:
    return set(PiiAccessLog.objects.filter(record_id=result_id).values_list("dataset", "column_name"))


@pytest.mark.parametrize(
    ("sql", "read"),
    [
        ("SELECT COLUMNS('e.*') FROM acme.people", {"email", "full_name", "phone"}),
        ("SELECT p FROM acme.people p", {"email", "full_name", "phone"}),
        ("SELECT list(email) AS l FROM acme.people", {"email"}),
        ("SELECT {'n': full_name} AS s FROM acme.people", {"full_name"}),
        ("SELECT * FROM acme.people", {"email", "full_name", "phone"}),
        ("SELECT id, city FROM acme.people", set()),
    ],
)
def test_an_unmasked_run_logs_every_personal_column_its_statement_reads(people, org_a, sql, read):
    user = unmasker(org_a)
    response = run(user, sql, unmask=True)
    assert response.status_code == 201, response.data
    assert logged(response.data["id"]) == {("acme.people", column) for column in read}


def test_an_unmasked_run_leaves_unread_personal_columns_masked(people, org_a):
    user = unmasker(org_a)
    # email is read by name, so raw; full_name is reached only through a lookup DuckDB resolves at
    # run time, which the parse cannot see: it stays masked (and unlogged).
    response = run(
        user, "SELECT email, struct_extract(struct_pack(n := 1), 'n') AS one FROM acme.people", unmask=True
    )
    assert response.status_code == 201, response.data
    assert {row["email"] for row in rows_of(response)} == {"jane@example.com", "joe@example.org"}
    assert logged(response.data["id"]) == {("acme.people", "email")}
    phone = run(user, "SELECT email, phone FROM acme.people ORDER BY id", unmask=True)
    assert [row["phone"] for row in rows_of(phone)] == ["+15550001", "+15550002"]
    partial_only = run(user, "SELECT phone FROM acme.people ORDER BY id")
    assert [row["phone"] for row in rows_of(partial_only)] == [partial("+15550001"), partial("+15550002")]


def test_another_users_unmasked_result_is_not_readable_by_an_org_admin(people, org_a):
    auditor = unmasker(org_a)
    admin = UserFactory(org=org_a, role="admin", is_staff=True)
    unmasked = run(auditor, "SELECT email FROM acme.people", unmask=True).data["id"]
    masked = run(auditor, "SELECT email FROM acme.people").data["id"]
    api = client_for(admin)
    for suffix in ("", "rows/", "download/"):
        assert api.get(f"/api/v1/query-results/{unmasked}/{suffix}").status_code == 404
        assert api.get(f"/api/v1/query-results/{masked}/{suffix}").status_code == 200
    listed = {row["id"] for row in api.get("/api/v1/query-results/").data["results"]}
    assert str(masked) in listed and str(unmasked) not in listed
    # The admin's result page goes through the same rule.
    from django.test import Client

    browser = Client()
    browser.force_login(admin)
    assert browser.get(f"/admin/queries/queryresult/{unmasked}/change/").status_code in (302, 404)
    # Its runner still reads it.
    assert client_for(auditor).get(f"/api/v1/query-results/{unmasked}/rows/").status_code == 200


def test_registering_a_column_invalidates_cached_masked_results(people, analyst, settings):
    first = run(analyst, "SELECT city FROM acme.people ORDER BY id")
    settings.PII_DATASET_COLUMNS = {"acme.people": {"email": "hash", "city": "redact"}}
    second = run(analyst, "SELECT city FROM acme.people ORDER BY id")
    assert [row["city"] for row in rows_of(first)] == ["Oslo", "Lima"]
    assert [row["city"] for row in rows_of(second)] == ["[redacted]", "[redacted]"]


def test_an_export_is_masked_at_the_source_and_nested_values_export_as_csv(people, analyst):
    from queries.result_files import download_chunks
    from queries.services import query_execute
    from versioning.storage import result_store

    sql = "SELECT [email, full_name] AS pair, p FROM acme.people p"
    result = query_execute(user=analyst, sql=sql, mode="export", output_format="csv", in_process=True)
    assert result.status == QueryResult.Status.SUCCEEDED, result.error_message
    body = b"".join(download_chunks(result_store(), result.output_location)).decode()
    assert keyed_hash("jane@example.com") in body
    assert not leaks(body)
