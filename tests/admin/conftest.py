import pytest

from testkit.factories import OrgFactory, UserFactory


@pytest.fixture
def org_a(db):
    return OrgFactory(slug="alpha", name="Alpha")


@pytest.fixture
def org_b(db):
    return OrgFactory(slug="bravo", name="Bravo Secret Name")


@pytest.fixture
def staff_owner_a(org_a):
    return UserFactory(org=org_a, role="owner", is_staff=True, external_id="owner@alpha")


@pytest.fixture
def staff_client(client, staff_owner_a):
    """The admin as org A's owner with staff access: the strongest non-superuser."""
    client.force_login(staff_owner_a)
    return client
