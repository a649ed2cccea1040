"""One object of any scoped model inside a given org, and a string that identifies it on a page.

The isolation matrices (tests/api, tests/admin) walk every endpoint and every admin page and need an
object of that page's model in another org. A model without a builder here fails those tests, so a
new model or endpoint cannot slip past them.
"""

from __future__ import annotations

from access.models import ApiToken
from access.services import api_token_create
from alerting.models import AlertDefinition, AlertDelivery, AlertEvent
from labels.models import AddressLabel
from orchestration.models import ColumnLineage, Job, Task, TaskInput
from orgs.models import Org, OrgRole, OrgRoleMembership, User
from pii.models import PiiAccessLog
from queries.models import QueryResult, SavedQuery
from testkit import factories as f
from versioning.models import DataInvalidation, DatasetCursor, PartitionVersion

BUILDERS = {
    Org: lambda org: org,
    User: lambda org: f.UserFactory(org=org),
    OrgRole: lambda org: f.OrgRoleFactory(org=org),
    OrgRoleMembership: lambda org: f.OrgRoleMembershipFactory(role__org=org),
    Job: lambda org: f.JobFactory(org=org),
    Task: lambda org: f.TaskFactory(job__org=org),
    TaskInput: lambda org: f.TaskInputFactory(task__job__org=org),
    ColumnLineage: lambda org: f.ColumnLineageFactory(job__org=org),
    AddressLabel: lambda org: f.AddressLabelFactory(org=org),
    SavedQuery: lambda org: f.SavedQueryFactory(org=org),
    QueryResult: lambda org: f.QueryResultFactory(org=org),
    AlertDefinition: lambda org: f.AlertDefinitionFactory(org=org),
    AlertEvent: lambda org: f.AlertEventFactory(org=org),
    AlertDelivery: lambda org: f.AlertDeliveryFactory(org=org),
    PartitionVersion: lambda org: f.PartitionVersionFactory(dataset=f"{org.slug}.dataset"),
    DatasetCursor: lambda org: f.DatasetCursorFactory(job__org=org),
    DataInvalidation: lambda org: f.DataInvalidationFactory(dataset=f"{org.slug}.dataset"),
    PiiAccessLog: lambda org: f.PiiAccessLogFactory(user__org=org),
    ApiToken: lambda org: api_token_create(user=f.UserFactory(org=org), name="other")[0],
}


def build(model, org):
    try:
        builder = BUILDERS[model]
    except KeyError:
        raise AssertionError(f"add a builder for {model._meta.label} to tests/tenancy_objects.py") from None
    return builder(org)


def marker(obj, surface: str = "api") -> str:
    """A string unique to ``obj`` that shows wherever the object is listed (API JSON, admin HTML)."""
    if isinstance(obj, OrgRoleMembership):
        # The API lists the user's id; the admin's record table shows the user's login.
        return str(obj.user_id) if surface == "api" else obj.user.external_id
    if isinstance(obj, TaskInput):
        return obj.input_partition
    if isinstance(obj, ColumnLineage):
        return obj.output_column
    if isinstance(obj, PartitionVersion):
        return obj.partition_key
    if isinstance(obj, DatasetCursor):
        return str(obj.job_id) if surface == "api" else str(obj.job)
    if isinstance(obj, ApiToken):
        return obj.token_key
    return str(obj.pk)
