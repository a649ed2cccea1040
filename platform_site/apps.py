from django.apps import AppConfig, apps
from django.db.models.signals import post_migrate


class PlatformSiteConfig(AppConfig):
    """Project-wide pieces: the shared model helpers and the platform's own commands."""

    name = "platform_site"
    verbose_name = "Platform"

    def ready(self):
        from .schedules import ensure_schedules

        # After django-q2's own tables exist: the daily retention schedule.
        post_migrate.connect(
            ensure_schedules, sender=apps.get_app_config("django_q"), dispatch_uid="platform_schedules"
        )
