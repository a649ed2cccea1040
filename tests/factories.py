"""factory_boy factories for the models tests build most often."""

import factory

from orchestration.models import Job, Task
from orgs.models import Org, User


class OrgFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Org
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.Sequence(lambda n: f"org{n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    org = factory.SubFactory(OrgFactory)
    external_id = factory.Sequence(lambda n: f"user{n}@sso")
    email = factory.LazyAttribute(lambda u: f"{u.external_id.split('@')[0]}@example.com")
    role = User.Role.MEMBER
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests")

    @factory.post_generation
    def saved(obj, create, extracted, **kwargs):  # noqa: N805 - factory_boy's hook signature
        if create:
            obj.save()


class JobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Job

    org = factory.SubFactory(OrgFactory)
    name = factory.Sequence(lambda n: f"job{n}")
    dag_name = "dag"
    runtime = Job.Runtime.SQL
    operator = "duckdb_sql"
    source = {"sql": "select 1"}


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    job = factory.SubFactory(JobFactory)
    partitions = factory.Sequence(lambda n: [f"p{n:08d}"])


def platform_org_for_tests() -> Org:
    """The platform org (writes the system namespaces such as ``evm``)."""
    from django.conf import settings

    return OrgFactory(slug=settings.PLATFORM_ORG_SLUG, name="Platform")


def synthetic_source_job(
    org: Org | None = None, *, end_block: int = 499, partition_size: int = 100, **fields
) -> Job:
    """A saved ``synthetic_chain`` source job writing evm.blocks/transactions/logs."""
    from orchestration.services import job_create

    return job_create(
        org=org or platform_org_for_tests(),
        name=fields.pop("name", "chain"),
        dag_name=fields.pop("dag_name", "evm"),
        runtime="source",
        operator="synthetic_chain",
        output_datasets=fields.pop("output_datasets", ["evm.blocks", "evm.transactions", "evm.logs"]),
        config={"end_block": end_block, "partition_size": partition_size, **fields.pop("config", {})},
        **fields,
    )


def sql_job(org: Org, name: str, sql: str, inputs: list[str], output: str, **fields) -> Job:
    """A saved ``duckdb_sql`` job."""
    from orchestration.services import job_create

    return job_create(
        org=org,
        name=name,
        dag_name=fields.pop("dag_name", "dag"),
        runtime="sql",
        operator="duckdb_sql",
        source={"sql": sql},
        input_datasets=inputs,
        output_datasets=[output],
        activation=fields.pop("activation", "reactive"),
        **fields,
    )
