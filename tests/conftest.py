import pytest

from testkit.factories import UserFactory


def pytest_configure(config):
    from django.conf import settings

    # Tests create many users; the production hasher's deliberate slowness buys nothing here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def superuser(db):
    return UserFactory(is_staff=True, is_superuser=True, role="owner")


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client
