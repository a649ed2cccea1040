from django.apps import AppConfig


class VersioningConfig(AppConfig):
    name = "versioning"
    verbose_name = "Versioned lake"

    def ready(self) -> None:
        from platform_site import dashboard, health, metrics

        from . import dashboard as lake_dashboard
        from . import health as lake_health
        from . import metrics as lake_metrics

        dashboard.register_figure("lake", lake_dashboard.lake)
        dashboard.register_links(lake_dashboard.links)
        # The /metrics exposition and /readyz list each app's part in a fixed order.
        metrics.register_collector(lake_metrics.collect_lake, order=20)
        health.register_check("storage", lake_health.check_storage, order=30)
