from datetime import timedelta

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.response import Response

from platform_site import tenancy
from platform_site.api.viewsets import OrgScopedViewSet

from ..models import ApiToken
from ..services import api_token_create, api_token_revoke
from .serializers import ApiTokenCreatedSerializer, ApiTokenSerializer


class ApiTokenViewSet(
    OrgScopedViewSet, mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin
):
    """The caller's API tokens. Creating one returns the token once; deleting one revokes it.
    A token is addressed by its public ``token_key`` (the first characters, not the secret)."""

    queryset = ApiToken.objects.all()
    serializer_class = ApiTokenSerializer
    lookup_field = "token_key"

    @extend_schema(request=ApiTokenSerializer, responses={201: ApiTokenCreatedSerializer})
    def create(self, request, *args, **kwargs):
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        days = body.validated_data.get("expires_in_days")
        token, secret = api_token_create(
            user=request.user,
            name=body.validated_data.get("name", ""),
            expires_in=timedelta(days=days) if days else None,
        )
        token.token = secret
        return Response(ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    def destroy(self, request, *args, **kwargs):
        token = get_object_or_404(
            tenancy.editable_by(request.user, ApiToken, "delete"), token_key=kwargs["token_key"]
        )
        api_token_revoke(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)
