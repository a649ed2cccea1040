from django.apps import AppConfig
from django.db.models.signals import post_migrate


class QueriesConfig(AppConfig):
    name = "queries"
    verbose_name = "Queries"

    def ready(self) -> None:
        # The ``saved_query`` operator lives here (orchestration cannot import queries) and joins
        # the operator registry when the app loads.
        from . import operators  # noqa: F401
        from .schedules import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="queries_schedules")
