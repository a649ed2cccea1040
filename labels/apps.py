from django.apps import AppConfig


class LabelsConfig(AppConfig):
    """Address labels: the model, its tenancy scope, the CSV import, the API and the
    ``address_labels`` operator that joins labels onto a dataset."""

    name = "labels"
    verbose_name = "Address labels"

    def ready(self) -> None:
        # Registers the operator and the tenancy scope; orchestration never imports this app.
        from . import operator, selectors  # noqa: F401
