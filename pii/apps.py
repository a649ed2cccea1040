from django.apps import AppConfig


class PiiConfig(AppConfig):
    name = "pii"
    verbose_name = "Personal data"
