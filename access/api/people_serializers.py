"""Orgs, users and org roles over the API; a user's personal fields go through the PII masking."""

from django.contrib.auth.password_validation import validate_password
from rest_framework import serializers

from orgs.models import Org, OrgRole, OrgRoleMembership, User
from orgs.roles import assignable_roles
from orgs.selectors import EXTERNAL_ID_UNAVAILABLE, external_id_taken
from orgs.settings_schema import ORG_SETTINGS_SCHEMA
from pii.api.masking import PiiMaskedSerializerMixin
from platform_site.api.serializers import CleanModelSerializer


class OrgSerializer(CleanModelSerializer):
    settings = serializers.JSONField(
        required=False,
        help_text=f"Validated against the org settings schema: {ORG_SETTINGS_SCHEMA['properties']}",
    )

    class Meta:
        model = Org
        fields = ["id", "name", "slug", "settings", "created_at"]
        read_only_fields = ["slug", "created_at"]


class UserSerializer(PiiMaskedSerializerMixin, CleanModelSerializer):
    password = serializers.CharField(
        write_only=True,
        required=False,
        style={"input_type": "password"},
        help_text="Optional; SSO users have none.",
    )

    class Meta:
        model = User
        fields = [
            "id",
            "org",
            "external_id",
            "email",
            "role",
            "is_active",
            "password",
            "created_at",
            "last_login",
        ]
        read_only_fields = ["org", "created_at", "last_login"]
        # Uniqueness is checked by validate_external_id, whose error names no other org's user.
        extra_kwargs = {"external_id": {"validators": []}}

    def validate_external_id(self, external_id):
        if external_id_taken(external_id, exclude_pk=getattr(self.instance, "pk", None)):
            raise serializers.ValidationError(EXTERNAL_ID_UNAVAILABLE)
        return external_id

    def validate_role(self, role):
        actor = self.context["request"].user
        current = self.instance.role if self.instance is not None else None
        if role != current and not actor.is_superuser and role not in assignable_roles(actor):
            raise serializers.ValidationError(f"you may not give the role {role!r}")
        return role

    def validate_password(self, password):
        validate_password(password)
        return password

    def prepare_for_clean(self, instance):
        if not instance.password:
            instance.set_unusable_password()

    def create(self, validated_data):
        password = validated_data.pop("password", None)
        user = User(**validated_data)
        user.set_password(password) if password else user.set_unusable_password()
        user.save()
        return user

    def update(self, instance, validated_data):
        password = validated_data.pop("password", None)
        instance = super().update(instance, validated_data)
        if password:
            instance.set_password(password)
            instance.save(update_fields=["password"])
        return instance


class OrgRoleSerializer(CleanModelSerializer):
    class Meta:
        model = OrgRole
        fields = ["id", "org", "slug", "name", "created_at"]
        read_only_fields = ["org", "created_at"]


class OrgRoleMembershipSerializer(serializers.ModelSerializer):
    role = serializers.UUIDField(source="role_id", read_only=True)
    user = serializers.UUIDField(source="user_id", read_only=True)

    class Meta:
        model = OrgRoleMembership
        fields = ["role", "user", "created_at"]
        read_only_fields = fields


class MemberSerializer(serializers.Serializer):
    user = serializers.UUIDField(help_text="A user of the role's org.")
