"""factory_boy factories for the models tests build most often."""

import factory
from django.utils import timezone

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
        model = "orgs.OrgRole"

    org = factory.SubFactory(OrgFactory)
    slug = factory.Sequence(lambda n: f"role{n}")
    name = factory.LazyAttribute(lambda r: r.slug.title())


class OrgRoleMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "orgs.OrgRoleMembership"

    role = factory.SubFactory(OrgRoleFactory)
    user = factory.SubFactory(UserFactory, org=factory.SelfAttribute("..role.org"))


class TaskInputFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "orchestration.TaskInput"

    task = factory.SubFactory(TaskFactory)
    input_dataset = "evm.blocks"
    input_partition = factory.Sequence(lambda n: f"blocks_{n:08d}")
    input_version = factory.LazyFunction(timezone.now)


class ColumnLineageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "orchestration.ColumnLineage"

    job = factory.SubFactory(JobFactory)
    output_dataset = factory.LazyAttribute(lambda e: f"{e.job.org.slug}.out")
    output_column = factory.Sequence(lambda n: f"col{n}")
    input_dataset = "evm.blocks"
    input_column = "number"


class AddressLabelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "orchestration.AddressLabel"

    user = factory.SubFactory(UserFactory)
    org = factory.SelfAttribute("user.org")
    address = factory.Sequence(lambda n: f"0x{n:040x}")
    label = factory.Sequence(lambda n: f"label {n}")


class PartitionVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "versioning.PartitionVersion"

    dataset = "evm.blocks"
    partition_key = factory.Sequence(lambda n: f"blocks_{n:08d}")
    version = factory.LazyFunction(timezone.now)
    config_hash = "c" * 64
    schema_hash = "s" * 64
    location = factory.LazyAttribute(lambda p: f"evm/blocks/{p.partition_key}.parquet")
    row_count = 1000
    bytes = 123456


class DatasetCursorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "versioning.DatasetCursor"

    dataset = "evm.blocks"
    job = factory.SubFactory(JobFactory)
    cursor_column = "number"
    cursor_value = "12000"


class DataInvalidationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "versioning.DataInvalidation"

    dataset = "evm.blocks"
    scope = "partition"
    partition_key = "blocks_00012000"
    reason = "operator fix"


class SavedQueryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "queries.SavedQuery"

    user = factory.SubFactory(UserFactory)
    org = factory.SelfAttribute("user.org")
    name = factory.Sequence(lambda n: f"query {n}")
    query = "select 1"


class QueryResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "queries.QueryResult"

    user = factory.SubFactory(UserFactory)
    org = factory.SelfAttribute("user.org")
    sql_hash = factory.Sequence(lambda n: f"{n:064x}")


class AlertDefinitionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "alerting.AlertDefinition"

    user = factory.SubFactory(UserFactory)
    org = factory.SelfAttribute("user.org")
    name = factory.Sequence(lambda n: f"alert {n}")
    condition = {"dataset": "evm.transfers", "where": {"column": "value", "op": "gt", "value": "1000"}}


class AlertEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "alerting.AlertEvent"

    alert_definition = factory.SubFactory(AlertDefinitionFactory)
    org = factory.SelfAttribute("alert_definition.org")
    dedupe_key = factory.Sequence(lambda n: f"dedupe-{n}")
    chain_id = 1
    block_number = factory.Sequence(lambda n: 18_000_000 + n)


class AlertDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "alerting.AlertDelivery"

    alert_event = factory.SubFactory(AlertEventFactory)
    org = factory.SelfAttribute("alert_event.org")
    channel = "webhook"


class PiiAccessLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "pii.PiiAccessLog"

    user = factory.SubFactory(UserFactory)
    dataset = "acme.customers"
    column_name = "email"
    action = "query"
