"""Who reads and writes private / org / public objects, per base role, through the selectors."""

from __future__ import annotations

import pytest

from alerting.models import AlertDefinition
from labels.models import AddressLabel
from platform_site.tenancy import editable_by, visible_to
from queries.models import SavedQuery
from testkit.factories import (
    AddressLabelFactory,
    AlertDefinitionFactory,
    OrgFactory,
    SavedQueryFactory,
    UserFactory,
)

FACTORIES = {
    SavedQuery: SavedQueryFactory,
    AlertDefinition: AlertDefinitionFactory,
    AddressLabel: AddressLabelFactory,
}

# (reader, {objects it reads}, {objects it may change}). Objects: "<org>-<visibility>", all created by
# "creator" in org A or by a member of org B.
EXPECTED = {
    "creator": (
        {"a-private", "a-org", "a-public", "b-public"},
        {"a-private", "a-org", "a-public"},
    ),
    "member": ({"a-org", "a-public", "b-public"}, set()),
    "viewer": ({"a-org", "a-public", "b-public"}, set()),
    "admin": ({"a-private", "a-org", "a-public", "b-public"}, {"a-private", "a-org", "a-public"}),
    "owner": ({"a-private", "a-org", "a-public", "b-public"}, {"a-private", "a-org", "a-public"}),
    "outsider": ({"a-public", "b-private", "b-org", "b-public"}, {"b-private", "b-org", "b-public"}),
}


@pytest.fixture
def world(db):
    org_a, org_b = OrgFactory(slug="alpha"), OrgFactory(slug="bravo")
    users = {
        "creator": UserFactory(org=org_a, role="member"),
        "member": UserFactory(org=org_a, role="member"),
        "viewer": UserFactory(org=org_a, role="viewer"),
        "admin": UserFactory(org=org_a, role="admin"),
        "owner": UserFactory(org=org_a, role="owner"),
        "outsider": UserFactory(org=org_b, role="member"),
    }
    return org_a, org_b, users


@pytest.mark.parametrize("model", list(FACTORIES), ids=lambda m: m.__name__)
@pytest.mark.parametrize("reader", list(EXPECTED))
def test_visibility_by_role(world, model, reader):
    org_a, org_b, users = world
    names = {}
    for visibility in ("private", "org", "public"):
        names[FACTORIES[model](org=org_a, user=users["creator"], visibility=visibility).pk] = (
            f"a-{visibility}"
        )
        names[FACTORIES[model](org=org_b, user=users["outsider"], visibility=visibility).pk] = (
            f"b-{visibility}"
        )
    readable, writable = EXPECTED[reader]
    user = users[reader]
    assert {names[pk] for pk in visible_to(user, model).values_list("pk", flat=True)} == readable
    assert {names[pk] for pk in editable_by(user, model).values_list("pk", flat=True)} == writable
    assert {names[pk] for pk in editable_by(user, model, "delete").values_list("pk", flat=True)} == writable


def test_superuser_reads_and_writes_every_org(world):
    org_a, org_b, users = world
    SavedQueryFactory(org=org_b, user=users["outsider"], visibility="private")
    root = UserFactory(org=org_a, is_superuser=True, is_staff=True)
    assert visible_to(root, SavedQuery).count() == 1
    assert editable_by(root, SavedQuery).count() == 1


def test_inactive_user_sees_nothing(world):
    org_a, _, users = world
    SavedQueryFactory(org=org_a, user=users["creator"], visibility="public")
    users["owner"].is_active = False
    assert not visible_to(users["owner"], SavedQuery).exists()
