from django.apps import AppConfig
from django.db.models.signals import post_migrate


class QueriesConfig(AppConfig):
    name = "queries"
    verbose_name = "Queries"

    def ready(self) -> None:
        from platform_site import metrics, retention
        from platform_site.admin_navigation import register_app_pages

        # The ``saved_query`` operator lives here (orchestration cannot import queries) and joins
        # the operator registry when the app loads.
        from . import metrics as query_metrics
        from . import operators  # noqa: F401
        from . import retention as query_retention
        from .navigation import query_pages
        from .schedules import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="queries_schedules")

        register_app_pages(self.label, query_pages)
        # The /metrics exposition and retention's report list each app's part in a fixed order.
        metrics.register_collector(query_metrics.collect_queries, order=40)
        retention.register_rule(("query_results",), query_retention.prune_query_results, order=30)
