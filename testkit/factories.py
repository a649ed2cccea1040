"""factory_boy factories for the models tests build most often."""

import datetime as _dt

import factory
from django.utils import timezone as _tz

from alerting.models import AlertDefinition, AlertDelivery, AlertEvent
from labels.models import AddressLabel
from orchestration.models import ColumnLineage, Job, Task, TaskInput
from orgs.models import Org, OrgRole, OrgRoleMembership, User
from pii.models import PiiAccessLog
from queries.models import QueryResult, SavedQuery
from versioning.models import DataInvalidation, DatasetCursor, PartitionVersion


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
    def saved(obj, create, extracted, **kwargs):
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


class OrgRoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrgRole

    org = factory.SubFactory(OrgFactory)
    slug = factory.Sequence(lambda n: f"role{n}")
    name = factory.LazyAttribute(lambda r: r.slug.title())


class OrgRoleMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrgRoleMembership

    role = factory.SubFactory(OrgRoleFactory)
    user = factory.SubFactory(UserFactory, org=factory.SelfAttribute("..role.org"))


class AddressLabelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AddressLabel

    org = factory.SubFactory(OrgFactory)
    user = factory.SubFactory(UserFactory, org=factory.SelfAttribute("..org"))
    address = factory.Sequence(lambda n: f"0x{n:040x}")
    label = factory.Sequence(lambda n: f"label {n}")
    visibility = "org"


class SavedQueryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SavedQuery

    org = factory.SubFactory(OrgFactory)
    user = factory.SubFactory(UserFactory, org=factory.SelfAttribute("..org"))
    name = factory.Sequence(lambda n: f"query {n}")
    query = "select 1"
    visibility = "org"


class QueryResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = QueryResult

    org = factory.SubFactory(OrgFactory)
    user = factory.SubFactory(UserFactory, org=factory.SelfAttribute("..org"))
    sql_hash = factory.Sequence(lambda n: f"{n:064x}")


class AlertDefinitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AlertDefinition

    org = factory.SubFactory(OrgFactory)
    user = factory.SubFactory(UserFactory, org=factory.SelfAttribute("..org"))
    name = factory.Sequence(lambda n: f"alert {n}")
    condition = {"dataset": "evm.logs", "where": {"column": "value", "op": "gt", "value": 1}}
    visibility = "org"


class AlertEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AlertEvent

    org = factory.SubFactory(OrgFactory)
    alert_definition = factory.SubFactory(AlertDefinitionFactory, org=factory.SelfAttribute("..org"))
    dedupe_key = factory.Sequence(lambda n: f"dedupe-{n}")


class AlertDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AlertDelivery

    org = factory.SubFactory(OrgFactory)
    alert_event = factory.SubFactory(AlertEventFactory, org=factory.SelfAttribute("..org"))
    channel = "webhook"


class TaskInputFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TaskInput

    task = factory.SubFactory(TaskFactory)
    input_dataset = factory.LazyAttribute(lambda t: f"{t.task.job.org.slug}.source")
    input_partition = factory.Sequence(lambda n: f"part{n:06d}")
    input_version = factory.LazyFunction(_tz.now)


class ColumnLineageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ColumnLineage

    job = factory.SubFactory(JobFactory)
    output_dataset = factory.LazyAttribute(lambda c: f"{c.job.org.slug}.out")
    output_column = factory.Sequence(lambda n: f"col{n}")
    input_dataset = "evm.blocks"
    input_column = "number"


class PartitionVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PartitionVersion

    dataset = factory.Sequence(lambda n: f"org{n}.dataset")
    partition_key = factory.Sequence(lambda n: f"p{n:08d}")
    version = factory.LazyFunction(_tz.now)
    config_hash = "c" * 64
    schema_hash = "s" * 64
    location = factory.LazyAttribute(lambda p: f"{p.dataset}/{p.partition_key}.parquet")
    row_count = 10
    bytes = 1000


class DatasetCursorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DatasetCursor

    job = factory.SubFactory(JobFactory)
    dataset = factory.LazyAttribute(lambda c: f"{c.job.org.slug}.source")
    cursor_column = "block_number"
    cursor_value = "100"


class DataInvalidationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DataInvalidation

    dataset = factory.Sequence(lambda n: f"org{n}.dataset")
    scope = "dataset"
    reason = "operator fix"


class PiiAccessLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PiiAccessLog

    user = factory.SubFactory(UserFactory)
    dataset = "users"
    column_name = "email"
    action = "api_view"
    accessed_at = factory.LazyFunction(lambda: _tz.now() - _dt.timedelta(seconds=1))


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
