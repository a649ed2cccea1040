"""The address-label endpoints: the org-scoped list and ``lookup/`` for many addresses at once."""

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from platform_site.api.viewsets import OrgScopedModelViewSet

from ..filtersets import AddressLabelFilter
from ..models import AddressLabel
from ..services import address_labels_lookup
from .serializers import AddressLabelSerializer, AddressLookupResponseSerializer, AddressLookupSerializer


class AddressLabelViewSet(OrgScopedModelViewSet):
    """Labels on chain addresses, with visibility private / org / public. Addresses are returned
    EIP-55 checksummed; ``lookup/`` answers up to 1,000 addresses in one call."""

    queryset = AddressLabel.objects.all()
    serializer_class = AddressLabelSerializer
    filterset_class = AddressLabelFilter

    @extend_schema(request=AddressLookupSerializer, responses={200: AddressLookupResponseSerializer})
    # JSON only: a thousand addresses as form fields would trip Django's form-field limit.
    @action(detail=False, methods=["post"], url_path="lookup", parser_classes=[JSONParser])
    def lookup(self, request):
        """The labels the caller may see on each address asked (one query, however many)."""
        asked = AddressLookupSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        checksummed = asked.validated_data["addresses"]  # stored form -> checksummed form
        found = address_labels_lookup(user=request.user, addresses=list(checksummed))
        results = [{"address": checksummed[address], "labels": labels} for address, labels in found.items()]
        return Response({"results": results})
