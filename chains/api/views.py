"""``/api/v1/contracts/``: an org's registered contracts, and registering new ones. A contract is
its ``evm_decode`` job: listed through the same org scope as jobs, removed by deleting or pausing
that job through ``/api/v1/jobs/``."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from orchestration.models import Job
from platform_site.api.viewsets import OrgScopedViewSet

from ..contracts import OPERATOR, contract_register
from .serializers import ContractSerializer


class ContractViewSet(OrgScopedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """Contracts decoded by ABI: each is an ``evm_decode`` job writing one dataset per event. Who
    may register one is who may create jobs."""

    queryset = Job.objects.filter(operator=OPERATOR).order_by("name")
    serializer_class = ContractSerializer

    @extend_schema(request=ContractSerializer, responses={201: ContractSerializer})
    def create(self, request):
        body = ContractSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            job = contract_register(
                user=request.user,
                name=data["name"],
                chain=data["chain"],
                address=data.get("address") or None,
                standard=data.get("standard") or None,
                abi=data.get("abi"),
                events=data.get("events"),
                functions=data.get("functions") or [],
            )
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        return Response(ContractSerializer(job).data, status=status.HTTP_201_CREATED)
