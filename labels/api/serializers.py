"""Address labels over the API: addresses accepted in any case, stored lower-case, returned
checksummed (EIP-55); a lookup of many addresses at once."""

from rest_framework import serializers

from platform_site.api.serializers import CleanModelSerializer

from ..addresses import AddressError, evm_address_checksummed, evm_address_normalize, evm_address_parse
from ..models import AddressLabel
from ..services import MAX_LOOKUP_ADDRESSES


class AddressLabelSerializer(CleanModelSerializer):
    """``address`` is accepted in any case (a mixed-case one must carry a valid EIP-55 checksum),
    stored lower-case and returned checksummed."""

    class Meta:
        model = AddressLabel
        fields = ["id", "org", "user", "address", "label", "visibility", "created_at", "updated_at"]
        read_only_fields = ["org", "user", "created_at", "updated_at"]

    def validate_address(self, address: str) -> str:
        try:
            return evm_address_normalize(address)
        except AddressError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["address"] = evm_address_checksummed(instance.address)
        return data


class AddressLookupSerializer(serializers.Serializer):
    # Items are checked by validate_addresses alone: a per-item CharField would double the
    # validation cost of a 1,000-address lookup for nothing the address parser does not check.
    addresses = serializers.ListField(
        min_length=1,
        max_length=MAX_LOOKUP_ADDRESSES,
        help_text=f"Up to {MAX_LOOKUP_ADDRESSES} EVM addresses (strings), any case.",
    )

    def validate_addresses(self, addresses: list[str]) -> dict[str, str]:
        """Stored form -> checksummed form, each address once, in the order asked."""
        parsed, errors = {}, {}
        for index, address in enumerate(addresses):
            try:
                stored, checksummed = evm_address_parse(address)
            except AddressError as exc:
                errors[str(index)] = [str(exc)]
            else:
                parsed.setdefault(stored, checksummed)
        if errors:
            raise serializers.ValidationError(errors)
        return parsed


class AddressLabelFoundSerializer(serializers.Serializer):
    label = serializers.CharField()
    visibility = serializers.CharField()
    org = serializers.CharField(help_text="slug of the org the label belongs to")


class AddressLookupResultSerializer(serializers.Serializer):
    address = serializers.CharField(help_text="EIP-55 checksummed")
    labels = AddressLabelFoundSerializer(many=True)


class AddressLookupResponseSerializer(serializers.Serializer):
    results = AddressLookupResultSerializer(many=True)
