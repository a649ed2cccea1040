"""The admin of people and their access: orgs, users and org roles (personal fields masked), and
API tokens."""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm

from orgs import services
from orgs.models import Org, OrgRole, OrgRoleMembership, User
from orgs.roles import assignable_roles
from orgs.selectors import EXTERNAL_ID_UNAVAILABLE, external_id_taken
from orgs.settings_schema import ORG_SETTINGS_SCHEMA
from pii.admin_masking import PiiMaskedAdminMixin
from platform_site.admin_site import RecordTable

from .models import ApiToken


@admin.register(Org)
class OrgAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created_at"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if "settings" in form.base_fields:
            keys = ", ".join(ORG_SETTINGS_SCHEMA["properties"])
            form.base_fields[
                "settings"
            ].help_text = f"A JSON object with any of: {keys} (see orgs/settings_schema.py)."
        return form

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return readonly if request.user.is_superuser else [*readonly, "slug"]


class ExternalIdFormMixin:
    """A taken external id gets one message that names no other org's user."""

    def clean_external_id(self):
        external_id = self.cleaned_data.get("external_id")
        if external_id and external_id_taken(external_id, exclude_pk=self.instance.pk):
            raise forms.ValidationError(EXTERNAL_ID_UNAVAILABLE)
        return external_id


class ChainlakeUserCreationForm(ExternalIdFormMixin, UserCreationForm):
    class Meta:
        model = User
        fields = ["external_id", "email", "org", "role"]


class ChainlakeUserChangeForm(ExternalIdFormMixin, UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(PiiMaskedAdminMixin, DjangoUserAdmin):
    """E-mails are personal data: masked on list and change pages unless unmasked (see pii)."""

    form = ChainlakeUserChangeForm
    add_form = ChainlakeUserCreationForm
    list_display = ["external_id", "email", "org", "role", "is_staff", "is_active", "last_login"]
    list_filter = ["role", "is_staff", "is_superuser", "is_active", "org"]
    list_select_related = ["org"]
    search_fields = ["external_id", "email"]
    ordering = ["external_id"]
    autocomplete_fields = ["org"]
    readonly_fields = ["created_at", "last_login"]
    filter_horizontal = ["groups", "user_permissions"]
    fieldsets = [
        (None, {"fields": ["external_id", "password"]}),
        ("Org", {"fields": ["org", "role", "email"]}),
        ("Access", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "created_at"]}),
    ]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        # Org admins manage their users' base role and staff access, never platform-wide rights.
        hidden = {"is_superuser", "groups", "user_permissions"}
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f not in hidden]})
            for name, opts in fieldsets
        ]

    def formfield_for_choice_field(self, db_field, request, **kwargs):
        if db_field.name == "role" and not request.user.is_superuser:
            allowed = assignable_roles(request.user)
            kwargs["choices"] = [(value, label) for value, label in db_field.choices if value in allowed]
        return super().formfield_for_choice_field(db_field, request, **kwargs)

    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["external_id", "email", "org", "role", "password1", "password2"],
            },
        ),
    ]


class OrgRoleForm(forms.ModelForm):
    members = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        required=False,
        widget=admin.widgets.FilteredSelectMultiple("members", is_stacked=False),
        help_text="Users of the role's org who hold it; object permissions granted to the role apply.",
    )

    class Meta:
        model = OrgRole
        fields = ["org", "slug", "name"]


@admin.register(OrgRole)
class OrgRoleAdmin(admin.ModelAdmin):
    """Org roles and who holds them. Memberships (a composite-key table) are edited here, through
    the role's form, and kept in sync with the role's guardian group."""

    form = OrgRoleForm
    list_display = ["slug", "name", "org", "created_at"]
    list_filter = ["org"]
    list_select_related = ["org"]
    search_fields = ["slug", "name"]
    autocomplete_fields = ["org"]
    readonly_fields = ["created_at"]
    fields = ["org", "slug", "name", "members", "created_at"]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        users = User.objects.filter(is_active=True).order_by("external_id")
        org_id = obj.org_id if obj is not None else request.user.org_id
        form.base_fields["members"].queryset = users.filter(org_id=org_id)
        if obj is not None:
            form.base_fields["members"].initial = list(obj.memberships.values_list("user_id", flat=True))
        return form

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        role = form.instance
        wanted = {user.pk: user for user in form.cleaned_data.get("members", [])}
        current = set(role.memberships.values_list("user_id", flat=True))
        for user_id in current - set(wanted):
            services.org_role_membership_remove(role=role, user=User(pk=user_id))
        for user_id in set(wanted) - current:
            services.org_role_membership_add(role=role, user=wanted[user_id])


admin.site.register_records(
    RecordTable(
        model=OrgRoleMembership,
        columns=("role", "user", "created_at"),
        filters=("role_id", "user_id"),
        ordering=("-created_at",),
        select_related=("role__org", "user"),
    )
)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created through the API (the secret is shown once); here they are listed and
    revoked (deleted). Users see their own; nothing here can reveal a token."""

    list_display = ["token_key", "name", "user", "created", "expiry", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["token_key", "name"]
    readonly_fields = ["token_key", "name", "user", "created", "expiry", "last_used_at"]
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
