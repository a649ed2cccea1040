import pytest
from django.contrib.auth.models import Permission

from testkit.factories import OrgFactory, UserFactory


@pytest.fixture
def org_a(db):
    return OrgFactory(slug="alpha", name="Alpha")


@pytest.fixture
def org_b(db):
    return OrgFactory(slug="bravo", name="Bravo")


@pytest.fixture
def reader(org_a):
    """An org admin with staff access: sees every user of the org, but holds no unmask right."""
    return UserFactory(org=org_a, role="admin", is_staff=True, external_id="reader@alpha")


def grant(user, codename: str):
    user.user_permissions.add(Permission.objects.get(content_type__app_label="pii", codename=codename))
    for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cache, None)
    return user


@pytest.fixture
def unmasker(reader):
    return grant(reader, "unmask_personal_data")
