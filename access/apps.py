from django.apps import AppConfig


class AccessConfig(AppConfig):
    """API tokens and guardian's per-model object-permission tables: library tables on top of the
    data model, kept out of the domain apps so those hold exactly the diagram's tables."""

    name = "access"
    verbose_name = "Access"

    def ready(self) -> None:
        from . import signals  # noqa: F401 - connects the receivers
