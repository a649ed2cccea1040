from django.apps import AppConfig


class OrgsConfig(AppConfig):
    name = "orgs"
    verbose_name = "Orgs and users"

    def ready(self) -> None:
        from . import groups  # noqa: F401 - connects the signals that keep role groups in sync
