from rest_framework import serializers

from ..models import PiiAccessLog


class PiiAccessLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = PiiAccessLog
        fields = ["id", "user", "dataset", "column_name", "record_id", "action", "accessed_at"]
        read_only_fields = fields
