from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OrchestrationConfig(AppConfig):
    name = "orchestration"
    verbose_name = "Orchestration"

    def ready(self) -> None:
        from .schedules import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="orchestration_schedules")
