"""Object permissions granted to an org role (its guardian group) or to a user directly."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from alerting.models import AlertDefinition
from orgs import services
from orgs.groups import org_role_group_name
from orgs.models import OrgRoleMembership
from platform_site.tenancy import editable_by, visible_to
from testkit.factories import AlertDefinitionFactory, OrgFactory, OrgRoleFactory, UserFactory


@pytest.fixture
def setting(db):
    org = OrgFactory(slug="alpha")
    creator = UserFactory(org=org, role="member")
    oncall = services.org_role_create(org=org, slug="oncall", name="On call")
    engineer = UserFactory(org=org, role="viewer")
    target = AlertDefinitionFactory(org=org, user=creator, visibility="private")
    other = AlertDefinitionFactory(org=org, user=creator, visibility="private")
    return org, creator, oncall, engineer, target, other


def test_role_group_follows_role_and_memberships(setting):
    _, _, oncall, engineer, _, _ = setting
    group = Group.objects.get(name=org_role_group_name(oncall.pk))
    services.org_role_membership_add(role=oncall, user=engineer)
    assert engineer.groups.filter(pk=group.pk).exists()
    services.org_role_membership_remove(role=oncall, user=engineer)
    assert not engineer.groups.filter(pk=group.pk).exists()
    services.org_role_membership_add(role=oncall, user=engineer)
    oncall.delete()  # cascades to memberships; the group goes too
    assert not Group.objects.filter(name=org_role_group_name(oncall.pk)).exists()
    assert not OrgRoleMembership.objects.filter(user=engineer).exists()


def test_change_permission_through_a_role_on_one_object(setting):
    _, _, oncall, engineer, target, other = setting
    services.org_role_membership_add(role=oncall, user=engineer)
    assert not visible_to(engineer, AlertDefinition).filter(pk=target.pk).exists()

    services.object_permission_grant_to_role(role=oncall, permission="change_alertdefinition", obj=target)

    assert set(visible_to(engineer, AlertDefinition)) == {target}
    assert set(editable_by(engineer, AlertDefinition)) == {target}
    assert not editable_by(engineer, AlertDefinition, "delete").exists()

    client = APIClient()
    client.force_authenticate(engineer)
    assert (
        client.patch(f"/api/v1/alert-definitions/{target.pk}/", {"enabled": False}, format="json").status_code
        == 200
    )
    assert (
        client.patch(f"/api/v1/alert-definitions/{other.pk}/", {"enabled": False}, format="json").status_code
        == 404
    )
    assert client.delete(f"/api/v1/alert-definitions/{target.pk}/").status_code == 403
    target.refresh_from_db()
    assert target.enabled is False

    # Leaving the role takes the permission away.
    services.org_role_membership_remove(role=oncall, user=engineer)
    assert not editable_by(engineer, AlertDefinition).exists()


def test_view_permission_granted_directly_to_a_user(setting):
    _, _, _, engineer, target, _ = setting
    services.object_permission_grant_to_user(user=engineer, permission="view_alertdefinition", obj=target)
    assert set(visible_to(engineer, AlertDefinition)) == {target}
    assert not editable_by(engineer, AlertDefinition).exists()


def test_permissions_never_cross_orgs(setting):
    _, _, oncall, _, _, _ = setting
    foreign = AlertDefinitionFactory(org=OrgFactory(slug="bravo"), visibility="private")
    with pytest.raises(ValidationError):
        services.object_permission_grant_to_role(
            role=oncall, permission="change_alertdefinition", obj=foreign
        )
    with pytest.raises(ValidationError):
        services.org_role_membership_add(role=oncall, user=UserFactory(org=foreign.org))


def test_a_role_of_another_org_is_not_an_org_members_role(setting):
    org, _, _, _, _, _ = setting
    elsewhere = OrgRoleFactory(org=OrgFactory(slug="charlie"))
    member = UserFactory(org=org)
    with pytest.raises(ValidationError):
        services.org_role_membership_add(role=elsewhere, user=member)
