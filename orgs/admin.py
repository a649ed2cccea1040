from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm

from platform_site.admin_base import html_table
from platform_site.admin_site import RecordTable

from .models import Org, OrgRole, OrgRoleMembership, User


@admin.register(Org)
class OrgAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created_at"]


class ChainlakeUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ["external_id", "email", "org", "role"]


class ChainlakeUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
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
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["external_id", "email", "org", "role", "password1", "password2"],
            },
        ),
    ]


@admin.register(OrgRole)
class OrgRoleAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "org", "created_at"]
    list_filter = ["org"]
    list_select_related = ["org"]
    search_fields = ["slug", "name"]
    autocomplete_fields = ["org"]
    readonly_fields = ["created_at", "members"]

    @admin.display(description="Members")
    def members(self, role: OrgRole) -> str:
        memberships = role.memberships.select_related("user").order_by("user__external_id")
        return html_table(["User", "Since"], [(m.user.external_id, m.created_at) for m in memberships])


admin.site.register_records(
    RecordTable(
        model=OrgRoleMembership,
        columns=("role", "user", "created_at"),
        filters=("role_id", "user_id"),
        ordering=("-created_at",),
        select_related=("role__org", "user"),
    )
)
