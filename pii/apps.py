from django.apps import AppConfig


class PiiConfig(AppConfig):
    name = "pii"
    verbose_name = "Personal data"

    def ready(self) -> None:
        # Jobs declare the personal columns of what they write in config.pii_columns; the job
        # services (a lower layer) check it through this hook on every save.
        from orchestration.services.jobs import register_config_validator

        from .registry import job_config_errors

        register_config_validator(job_config_errors)

        # Every sandboxed DuckDB database can compute the keyed hash its masked views call.
        from versioning.duckdb_sandbox import register_database_hook

        from .sql_masking import install_mask_functions

        register_database_hook(install_mask_functions)

        # Admin filters, search and ordering on a masked personal field are refused on every page.
        from platform_site.admin_lookups import register_lookup_guard

        from .admin_masking import personal_lookup_error

        register_lookup_guard(personal_lookup_error)

        # The access log stays sealed against the application's role across migrations (embedded
        # server only; elsewhere the operator's seal command), and check --deploy says if it holds.
        from django.db.models.signals import post_migrate, pre_migrate

        from . import checks  # noqa: F401  (registers the deploy check)
        from .database_roles import release_before_migrate, seal_after_migrate

        pre_migrate.connect(release_before_migrate, sender=self, dispatch_uid="pii_access_log_release")
        post_migrate.connect(seal_after_migrate, sender=self, dispatch_uid="pii_access_log_seal")
