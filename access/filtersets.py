import django_filters

from orgs.models import OrgRole, OrgRoleMembership, User


class UserFilter(django_filters.FilterSet):
    external_id = django_filters.CharFilter(lookup_expr="icontains")
    email = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = User
        fields = ["role", "is_active", "external_id", "email"]


class OrgRoleFilter(django_filters.FilterSet):
    class Meta:
        model = OrgRole
        fields = ["slug"]


class OrgRoleMembershipFilter(django_filters.FilterSet):
    role = django_filters.UUIDFilter(field_name="role_id")
    user = django_filters.UUIDFilter(field_name="user_id")

    class Meta:
        model = OrgRoleMembership
        fields = ["role", "user"]
