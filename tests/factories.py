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
