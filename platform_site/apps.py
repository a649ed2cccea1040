from django.apps import AppConfig


class PlatformSiteConfig(AppConfig):
    """Project-wide pieces: the shared model helpers and the platform's own commands."""

    name = "platform_site"
    verbose_name = "Platform"
