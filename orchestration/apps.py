from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OrchestrationConfig(AppConfig):
    name = "orchestration"
    verbose_name = "Orchestration"

    def ready(self) -> None:
        from versioning.datasets import register_job_declarations

        from .schedules import ensure_schedules
        from .selectors.datasets import JOB_DECLARATIONS

        register_job_declarations(JOB_DECLARATIONS)
        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="orchestration_schedules")
