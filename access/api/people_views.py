"""The org, user and org-role endpoints: users' personal fields masked unless unmasked and logged."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from orgs import services
from orgs.models import Org, OrgRole, OrgRoleMembership, User
from pii.api.masking import PiiUnmaskViewMixin
from platform_site import tenancy
from platform_site.api.viewsets import OrgScopedModelViewSet, OrgScopedViewSet, RecordListViewSet

from ..filtersets import OrgRoleFilter, OrgRoleMembershipFilter, UserFilter
from .people_serializers import (
    MemberSerializer,
    OrgRoleMembershipSerializer,
    OrgRoleSerializer,
    OrgSerializer,
    UserSerializer,
)


class OrgViewSet(OrgScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin):
    """The user's own org. Owners change its name and settings."""

    queryset = Org.objects.all()
    serializer_class = OrgSerializer


class UserViewSet(
    PiiUnmaskViewMixin,  # before the viewset: it wraps dispatch, initial and the serializer context
    OrgScopedViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
):
    """The org's users. Org admins add users and change roles; deactivate with ``is_active: false``
    (users own saved queries and labels, so they are never deleted through the API). E-mails are
    personal data: masked unless ``?unmask=true`` by a user holding the unmask right (logged)."""

    queryset = User.objects.select_related("org")
    serializer_class = UserSerializer
    filterset_class = UserFilter


class OrgRoleViewSet(OrgScopedModelViewSet):
    """Named roles of the org (``oncall``, ``analyst``); object permissions are granted to them."""

    queryset = OrgRole.objects.all()
    serializer_class = OrgRoleSerializer
    filterset_class = OrgRoleFilter

    def _editable_role(self, pk) -> OrgRole:
        role = self.get_object()
        if not tenancy.is_editable(self.request.user, role):
            raise PermissionDenied()
        return role

    @extend_schema(request=MemberSerializer, responses={201: OrgRoleMembershipSerializer})
    @action(detail=True, methods=["post"], url_path="members")
    def add_member(self, request, pk=None):
        role = self._editable_role(pk)
        body = MemberSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = get_object_or_404(tenancy.visible_to(request.user, User), pk=body.validated_data["user"])
        membership = services.org_role_membership_add(role=role, user=user)
        return Response(OrgRoleMembershipSerializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"members/(?P<user_id>[0-9a-fA-F-]{36})")
    def remove_member(self, request, pk=None, user_id=None):
        role = self._editable_role(pk)
        membership = get_object_or_404(OrgRoleMembership.objects.filter(role=role), user_id=user_id)
        services.org_role_membership_remove(role=role, user=membership.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class OrgRoleMembershipViewSet(RecordListViewSet):
    """Who holds which org role. Add and remove through ``/org-roles/{id}/members/``."""

    queryset = OrgRoleMembership.objects.order_by("role_id", "user_id")
    serializer_class = OrgRoleMembershipSerializer
    filterset_class = OrgRoleMembershipFilter
