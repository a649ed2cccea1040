"""Job writes through the API follow the same rules as the admin: the orchestration job services."""

from orchestration.models import ColumnLineage, Job

JOBS = "/api/v1/jobs/"


def sql_job_body(name: str, sql: str, inputs: list[str], output: str, **extra) -> dict:
    return {
        "name": name,
        "dag_name": "whales",
        "runtime": "sql",
        "operator": "duckdb_sql",
        "source": {"sql": sql},
        "input_datasets": inputs,
        "output_datasets": [output],
        "activation": "reactive",
        **extra,
    }


def test_created_job_gets_config_hash_and_column_lineage(api, org_a):
    body = sql_job_body("copy", "SELECT block_number, miner FROM evm.blocks", ["evm.blocks"], "alpha.copy")
    response = api.post(JOBS, body, format="json")
    assert response.status_code == 201, response.json()
    job = Job.objects.get(pk=response.json()["id"])
    assert job.org == org_a and len(job.config_hash) == 64
    edges = set(ColumnLineage.objects.filter(job=job).values_list("output_column", "input_column"))
    assert edges == {("block_number", "block_number"), ("miner", "miner")}


def test_config_change_through_the_api_changes_the_hash(api):
    body = sql_job_body("copy", "SELECT block_number FROM evm.blocks", ["evm.blocks"], "alpha.copy")
    created = api.post(JOBS, body, format="json").json()
    changed = api.patch(
        f"{JOBS}{created['id']}/",
        {"source": {"sql": "SELECT block_number + 1 AS n FROM evm.blocks"}},
        format="json",
    )
    assert changed.status_code == 200, changed.json()
    assert changed.json()["config_hash"] != created["config_hash"]


def test_cycle_is_a_400_and_saves_nothing(api):
    first = sql_job_body("a_to_b", "SELECT * FROM alpha.a", ["alpha.a"], "alpha.b")
    assert api.post(JOBS, first, format="json").status_code == 201
    second = sql_job_body("b_to_a", "SELECT * FROM alpha.b", ["alpha.b"], "alpha.a")
    response = api.post(JOBS, second, format="json")
    assert response.status_code == 400
    assert "cycle" in str(response.json()).lower()
    assert not Job.objects.filter(name="b_to_a").exists()


def test_operator_errors_are_field_errors(api):
    body = sql_job_body("bad", "DELETE FROM evm.blocks", ["evm.blocks"], "alpha.bad")
    response = api.post(JOBS, body, format="json")
    assert response.status_code == 400
    assert "source" in str(response.json())
    unknown = sql_job_body("bad2", "SELECT 1", [], "alpha.bad2", operator="no_such_operator")
    response = api.post(JOBS, unknown, format="json")
    assert response.status_code == 400 and "operator" in str(response.json())
    assert not Job.objects.filter(name__in=["bad", "bad2"]).exists()
