"""A contract registration over the API: the fields of the form, answered with its decoding job."""

from rest_framework import serializers

from ..contracts import ContractSpec


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
    id = serializers.UUIDField(read_only=True, help_text="The decoding job's id.")
    output_datasets = serializers.ListField(child=serializers.CharField(), read_only=True)

    def to_representation(self, job):
        spec = ContractSpec.from_job(job)
        return {
            "id": str(job.pk),
            "name": spec.name,
            "chain": spec.chain,
            "address": spec.address,
            "standard": spec.standard,
            "abi": spec.abi,
            "events": spec.events,
            "functions": spec.functions,
            "output_datasets": job.output_datasets,
        }
