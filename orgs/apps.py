from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "orgs"
    verbose_name = "Orgs and users"

    def ready(self) -> None:
        from platform_site.admin_site import register_tenancy_admin
        from platform_site.admin_timezone import register_zone_lookup
        from platform_site.retention import register_org_settings

        from . import groups  # noqa: F401 - connects the signals that keep role groups in sync
        from .admin_tenancy import scoped_admin_class, superuser_only_admin_class
        from .retention import org_retention_settings
        from .timezone import org_timezone_name

        # Every admin registration is scoped by org through this app's roles.
        register_tenancy_admin(scoped=scoped_admin_class, superuser_only=superuser_only_admin_class)
        # Admin pages read times in the viewer's org time zone.
        register_zone_lookup(org_timezone_name)
        # Retention deletes each org's records by its own settings.
        register_org_settings(org_retention_settings)
