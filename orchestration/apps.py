from django.apps import AppConfig
from django.db.models.signals import post_migrate


class OrchestrationConfig(AppConfig):
    name = "orchestration"
    verbose_name = "Orchestration"

    def ready(self) -> None:
        from platform_site import dashboard, health, metrics, retention
        from versioning.datasets import register_job_declarations

        from . import dashboard as engine_dashboard
        from . import health as engine_health
        from . import metrics as engine_metrics
        from . import retention as engine_retention
        from .schedules import ensure_schedules
        from .selectors.datasets import JOB_DECLARATIONS

        register_job_declarations(JOB_DECLARATIONS)
        post_migrate.connect(ensure_schedules, sender=self, dispatch_uid="orchestration_schedules")

        dashboard.register_figure("tasks_per_minute", engine_dashboard.tasks_per_minute)
        dashboard.register_figure("live_tasks", engine_dashboard.live_tasks)
        dashboard.register_figure("failures_by_job", engine_dashboard.failures_by_job)
        dashboard.register_figure("oldest_due", engine_dashboard.oldest_due)
        dashboard.register_chart("task_chart", engine_dashboard.task_chart)
        dashboard.register_links(engine_dashboard.links)
        # The /metrics exposition and /readyz list each app's part in a fixed order.
        metrics.register_collector(engine_metrics.collect_tasks, order=10)
        health.register_check("workers", engine_health.check_workers, order=40)
        retention.register_rule(
            ("tasks",),
            engine_retention.prune_tasks,
            order=10,
            around_run=engine_retention.current_tasks_table,
        )
