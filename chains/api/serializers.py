"""A contract registration over the API: the fields of the form, answered with its decoding job."""

from rest_framework import serializers


class ContractSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=40, help_text="Lower-case, e.g. usdc: names the datasets.")
    chain = serializers.CharField(
        max_length=64, help_text="The chain namespace whose logs are decoded, e.g. evm."
    )
    address = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        max_length=64,
        help_text="0x…; null or absent: any address emitting the events.",
    )
    standard = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=32)
    abi = serializers.JSONField(required=False, allow_null=True, help_text="ABI JSON (a list of entries).")
    events = serializers.ListField(
        child=serializers.CharField(max_length=128), required=False, allow_null=True, max_length=200
    )
    functions = serializers.ListField(
        child=serializers.CharField(max_length=128), required=False, max_length=200
    )
    job = serializers.UUIDField(read_only=True, help_text="The decoding job.")
    output_datasets = serializers.ListField(child=serializers.CharField(), read_only=True)
