"""Lineage names only what a job really reads, and job pages show only what the viewer may read."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from orchestration.models import ColumnLineage
from orchestration.services import job_create, job_plan
from testkit.factories import OrgFactory, UserFactory, platform_org_for_tests, sql_job, synthetic_source_job


def python_job(org, lineage, inputs=("evm.blocks",)):
    return job_create(
        org=org,
        name="py",
        dag_name="d",
        runtime="python",
        operator="python",
        source={"callable": "tests.orchestration.slow:slow_copy"},
        input_datasets=list(inputs),
        output_datasets=[f"{org.slug}.py_out"],
        config={"column_lineage": lineage},
    )


def config_error(excinfo) -> str:
    errors = excinfo.value.message_dict
    return " ".join(errors.get("config", []) + errors.get("source", []))


def rendered_rows(html: str, label: str) -> list[list[str]]:
    """The cells of each row of the table shown under the field labelled ``label`` on an admin
    change page."""
    start = html.index(f"<label>{label}:</label>")
    block = html[start : html.index("</table>", start)]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", block, re.S)
    return [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows]


@pytest.fixture
def published(db, run_tasks):
    source = synthetic_source_job(end_block=99, partition_size=100)
    job_plan(job=source)
    run_tasks()
    return source


@pytest.mark.django_db
def test_declared_lineage_names_only_the_jobs_own_inputs(db):
    org = OrgFactory(slug="alpha")
    OrgFactory(slug="beta")
    forged = [{"output_column": "x", "input_dataset": "beta.private", "input_column": "secret"}]
    with pytest.raises(ValidationError) as excinfo:
        python_job(org, forged)
    assert "'beta.private' is not one of this job's input_datasets" in config_error(excinfo)
    with pytest.raises(ValidationError):
        python_job(org, [{"output_column": "", "input_dataset": "evm.blocks", "input_column": "miner"}])
    assert not ColumnLineage.objects.filter(input_dataset="beta.private").exists()


def test_declared_lineage_names_real_columns_once_the_catalog_knows_them(published):
    org = OrgFactory(slug="alpha")
    with pytest.raises(ValidationError) as excinfo:
        python_job(org, [{"output_column": "x", "input_dataset": "evm.blocks", "input_column": "nosuch"}])
    assert "evm.blocks has no column 'nosuch'" in config_error(excinfo)
    job = python_job(org, [{"output_column": "who", "input_dataset": "evm.blocks", "input_column": "miner"}])
    assert set(job.column_lineage.values_list("input_column", flat=True)) == {"miner"}


def test_sql_reading_a_missing_column_is_refused_when_the_schema_is_known(db, run_tasks):
    org = OrgFactory(slug="alpha")
    # Before anything is published the columns are unknown: the job saves.
    early = sql_job(org, "early", "SELECT nosuchcol FROM evm.blocks", ["evm.blocks"], "alpha.early")
    assert early.pk
    early.delete()
    source = synthetic_source_job(end_block=99, partition_size=100)
    job_plan(job=source)
    run_tasks()
    with pytest.raises(ValidationError) as excinfo:
        sql_job(org, "bad", "SELECT nosuchcol FROM evm.blocks", ["evm.blocks"], "alpha.bad")
    assert "nosuchcol" in config_error(excinfo)
    good = sql_job(org, "good", "SELECT block_number, miner FROM evm.blocks", ["evm.blocks"], "alpha.good")
    assert good.pk


def test_job_pages_show_only_neighbours_and_lineage_the_viewer_may_read(client, published):
    alpha = OrgFactory(slug="alpha")
    sql_job(alpha, "copy", "SELECT block_number, miner FROM evm.blocks", ["evm.blocks"], "alpha.copy")
    platform_staff = UserFactory(org=platform_org_for_tests(), role="owner", is_staff=True)
    client.force_login(platform_staff)
    page = client.get(reverse("admin:orchestration_job_change", args=[published.pk])).content.decode()
    assert "alpha/copy" not in page and "alpha.copy" not in page
    superuser = UserFactory(org=alpha, role="owner", is_staff=True, is_superuser=True)
    client.force_login(superuser)
    page = client.get(reverse("admin:orchestration_job_change", args=[published.pk])).content.decode()
    assert "alpha/copy" in page
    assert ["evm.blocks", "miner", "alpha.copy", "miner"] in rendered_rows(page, "Column lineage")
