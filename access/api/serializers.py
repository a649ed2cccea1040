from rest_framework import serializers

from ..models import ApiToken


class ApiTokenSerializer(serializers.ModelSerializer):
    expires_in_days = serializers.IntegerField(
        write_only=True,
        required=False,
        min_value=1,
        max_value=365,
        help_text="Default: the platform's token TTL.",
    )
    token = serializers.CharField(read_only=True, help_text="Shown once, in the creation response only.")

    class Meta:
        model = ApiToken
        fields = ["token_key", "name", "created", "expiry", "last_used_at", "expires_in_days", "token"]
        read_only_fields = ["token_key", "created", "expiry", "last_used_at", "token"]
