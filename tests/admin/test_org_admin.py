"""Org admins manage their org from the admin: users, roles, memberships, object permissions, and
nothing of another org; members see and change only what the visibility rules give them."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.urls import reverse

from orgs.groups import org_role_group_name
from orgs.models import OrgRoleMembership
from platform_site.tenancy import editable_by
from queries.models import SavedQuery
from testkit.factories import (
    AlertDefinitionFactory,
    JobFactory,
    OrgRoleFactory,
    SavedQueryFactory,
    UserFactory,
)


def test_an_object_cannot_be_created_inside_another_org(staff_client, org_a, org_b):
    url = reverse("admin:queries_savedquery_add")
    response = staff_client.post(
        url, {"org": org_b.pk, "name": "q", "query": "select 1", "visibility": "org"}
    )
    assert response.status_code == 200  # the form again, with an error
    assert "org" in response.context["adminform"].form.errors
    assert not SavedQuery.objects.exists()
    response = staff_client.post(
        url, {"org": org_a.pk, "name": "q", "query": "select 1", "visibility": "org"}
    )
    assert response.status_code == 302
    assert SavedQuery.objects.get().org == org_a


def test_an_object_cannot_be_moved_into_another_org(staff_client, org_a, org_b):
    job = JobFactory(org=org_a)
    url = reverse("admin:orchestration_job_change", args=[job.pk])
    form = staff_client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(org=org_b.pk, source='{"sql": "select 1"}', config="{}", scaling="{}")
    response = staff_client.post(url, data)
    assert response.status_code == 200
    assert "org" in response.context["adminform"].form.errors
    job.refresh_from_db()
    assert job.org == org_a


def test_role_members_are_managed_on_the_role_page(staff_client, org_a, org_b):
    role = OrgRoleFactory(org=org_a, slug="oncall")
    colleague, stranger = UserFactory(org=org_a), UserFactory(org=org_b)
    url = reverse("admin:orgs_orgrole_change", args=[role.pk])
    base = {"org": org_a.pk, "slug": "oncall", "name": "On call"}

    response = staff_client.post(url, {**base, "members": [stranger.pk]})
    assert response.status_code == 200 and "members" in response.context["adminform"].form.errors
    assert not OrgRoleMembership.objects.exists()

    assert staff_client.post(url, {**base, "members": [colleague.pk]}).status_code == 302
    assert colleague.groups.filter(name=org_role_group_name(role.pk)).exists()
    assert staff_client.post(url, {**base, "members": []}).status_code == 302
    assert not OrgRoleMembership.objects.exists()
    assert not colleague.groups.exists()


def test_org_admin_grants_an_object_permission_to_a_role(staff_client, org_a, org_b):
    definition = AlertDefinitionFactory(org=org_a, visibility="private")
    oncall = OrgRoleFactory(org=org_a, slug="oncall")
    foreign_role = OrgRoleFactory(org=org_b, slug="oncall")
    engineer = UserFactory(org=org_a, role="viewer")
    OrgRoleMembership.objects.create(role=oncall, user=engineer)

    page = reverse("admin:alerting_alertdefinition_permissions", args=[definition.pk])
    choices = list(staff_client.get(page).context["group_form"].fields["group"].queryset)
    assert choices == [Group.objects.get(name=org_role_group_name(oncall.pk))]

    foreign_group = Group.objects.get(name=org_role_group_name(foreign_role.pk))
    foreign_url = reverse(
        "admin:alerting_alertdefinition_permissions_manage_group", args=[definition.pk, foreign_group.pk]
    )
    assert staff_client.get(foreign_url).status_code == 404

    group = Group.objects.get(name=org_role_group_name(oncall.pk))
    manage = reverse(
        "admin:alerting_alertdefinition_permissions_manage_group", args=[definition.pk, group.pk]
    )
    assert staff_client.post(manage, {"permissions": ["change_alertdefinition"]}).status_code == 302
    assert list(editable_by(engineer, type(definition))) == [definition]


def test_org_admin_cannot_grant_platform_rights_or_the_owner_role(client, org_a, org_b):
    admin_user = UserFactory(org=org_a, role="admin", is_staff=True)
    client.force_login(admin_user)
    member = UserFactory(org=org_a)
    page = client.get(reverse("admin:orgs_user_change", args=[member.pk]))
    form = page.context["adminform"].form
    assert "is_superuser" not in form.fields and "user_permissions" not in form.fields
    assert "owner" not in [value for value, _ in form.fields["role"].choices]
    outsider = UserFactory(org=org_b)
    assert client.get(reverse("admin:auth_user_password_change", args=[outsider.pk])).status_code == 404


def test_member_sees_visible_objects_and_changes_only_its_own(client, org_a):
    member = UserFactory(org=org_a, role="member", is_staff=True)
    colleague = UserFactory(org=org_a, role="member")
    private = SavedQueryFactory(org=org_a, user=colleague, visibility="private")
    shared = SavedQueryFactory(org=org_a, user=colleague, visibility="org")
    own = SavedQueryFactory(org=org_a, user=member, visibility="private")
    client.force_login(member)

    listed = {
        str(q.pk)
        for q in client.get(reverse("admin:queries_savedquery_changelist")).context["cl"].result_list
    }
    assert listed == {str(shared.pk), str(own.pk)}
    assert client.get(reverse("admin:queries_savedquery_change", args=[private.pk])).status_code == 404
    shared_url = reverse("admin:queries_savedquery_change", args=[shared.pk])
    assert client.get(shared_url).status_code == 200  # read only
    assert client.post(shared_url, {"name": "mine now"}).status_code == 403
    own_url = reverse("admin:queries_savedquery_change", args=[own.pk])
    response = client.post(
        own_url, {"org": org_a.pk, "name": "renamed", "query": "select 2", "visibility": "org"}
    )
    assert response.status_code == 302
    own.refresh_from_db()
    assert (own.name, own.user) == ("renamed", member)


def test_other_orgs_public_objects_stay_out_of_the_admin(client, db):
    from django.urls import reverse

    from testkit.factories import OrgFactory, SavedQueryFactory, UserFactory

    home, other = OrgFactory(slug="home"), OrgFactory(slug="other")
    staff = UserFactory(org=home, role="admin", is_staff=True)
    public_elsewhere = SavedQueryFactory(org=other, visibility="public", name="someone else's")
    mine = SavedQueryFactory(org=home, visibility="org", name="ours")
    client.force_login(staff)
    listing = client.get(reverse("admin:queries_savedquery_changelist")).content.decode()
    assert "ours" in listing and "someone else" not in listing
    page = client.get(reverse("admin:queries_savedquery_change", args=[public_elsewhere.pk]))
    assert page.status_code == 404
    assert client.get(reverse("admin:queries_savedquery_change", args=[mine.pk])).status_code == 200
