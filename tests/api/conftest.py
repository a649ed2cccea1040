import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from testkit.factories import OrgFactory, UserFactory


@pytest.fixture(autouse=True)
def _fresh_throttle_state():
    # Throttle history lives in the cache; each test starts with none.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def org_a(db):
    return OrgFactory(slug="alpha", name="Alpha")


@pytest.fixture
def org_b(db):
    return OrgFactory(slug="bravo", name="Bravo")


def _client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def make_client():
    return _client_for


@pytest.fixture
def owner_a(org_a):
    return UserFactory(org=org_a, role="owner", external_id="owner@alpha")


@pytest.fixture
def api(owner_a):
    """An API client acting as the owner of org A: the strongest non-superuser."""
    return _client_for(owner_a)
