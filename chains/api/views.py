"""``/api/v1/contracts/``: list an org's registered contracts and register new ones. Removing one
is deleting (or pausing) its decoding job through ``/api/v1/jobs/``."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import status, viewsets
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from orchestration.models import Job
from platform_site import tenancy

from ..contracts import OPERATOR, ContractSpec, contract_register
from .serializers import ContractSerializer


def _as_data(job: Job) -> dict:
    spec = ContractSpec.from_job(job)
    return {
        "name": spec.name,
        "chain": spec.chain,
        "address": spec.address,
        "standard": spec.standard,
        "abi": spec.abi,
        "events": spec.events,
        "functions": spec.functions,
        "job": job.pk,
        "output_datasets": job.output_datasets,
    }


class ContractViewSet(viewsets.ViewSet):
    """Contracts decoded by ABI: each is an ``evm_decode`` job writing one dataset per event."""

    permission_classes = [IsAuthenticated]
    serializer_class = ContractSerializer

    @extend_schema(responses={200: ContractSerializer(many=True)})
    def list(self, request):
        jobs = tenancy.visible_to(request.user, Job).filter(operator=OPERATOR).order_by("name")[:1000]
        return Response([_as_data(job) for job in jobs])

    @extend_schema(request=ContractSerializer, responses={201: ContractSerializer})
    def create(self, request):
        if not tenancy.can_create(request.user, Job):
            raise PermissionDenied("You may not register contracts in this org.")
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
        return Response(_as_data(job), status=status.HTTP_201_CREATED)
