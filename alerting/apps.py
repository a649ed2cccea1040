from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AlertingConfig(AppConfig):
    name = "alerting"
    verbose_name = "Alerting"

    def ready(self) -> None:
        from platform_site import dashboard, metrics, retention

        # The evaluator is an orchestration operator; orchestration never imports alerting, so the
        # registration happens from here.
        from . import dashboard as alert_dashboard
        from . import metrics as alert_metrics
        from . import operator, signals  # noqa: F401
        from . import retention as alert_retention
        from .schedules import ensure_schedules

        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="alerting_schedules")

        dashboard.register_figure("alert_events_per_day", alert_dashboard.alert_events_per_day)
        dashboard.register_figure("deliveries", alert_dashboard.deliveries)
        dashboard.register_chart("alert_chart", alert_dashboard.alert_chart)
        dashboard.register_links(alert_dashboard.links)
        # The /metrics exposition and retention's report list each app's part in a fixed order.
        metrics.register_collector(alert_metrics.collect_deliveries, order=30)
        retention.register_rule(("alert_deliveries", "alert_events"), alert_retention.prune_alerts, order=20)
