import pytest

from tests.factories import UserFactory


@pytest.fixture
def superuser(db):
    return UserFactory(is_staff=True, is_superuser=True, role="owner")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client
