from rest_framework import serializers

from ..models import ApiToken


class ApiTokenSerializer(serializers.ModelSerializer):
    """A token as listed: never its secret."""

    expires_in_days = serializers.IntegerField(
        write_only=True,
        required=False,
        min_value=1,
        max_value=365,
        help_text="Default: the platform's token TTL.",
    )

    class Meta:
        model = ApiToken
        fields = ["token_key", "name", "created", "expiry", "last_used_at", "expires_in_days"]
        read_only_fields = ["token_key", "created", "expiry", "last_used_at"]


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    """A token as its creation answers it: with the secret, shown this once."""

    token = serializers.CharField(read_only=True, help_text="Shown once, in the creation response only.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "token"]
        read_only_fields = [*ApiTokenSerializer.Meta.read_only_fields, "token"]
