from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AlertingConfig(AppConfig):
    name = "alerting"
    verbose_name = "Alerting"

    def ready(self) -> None:
        # The evaluator is an orchestration operator; orchestration never imports alerting, so the
        # registration happens from here.
        from . import operator, signals  # noqa: F401
        from .schedules import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="alerting_schedules")
