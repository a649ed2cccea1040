"""The one router under ``/api/v1/``; each app's ``api/urls.py`` registers its viewsets here."""

from django.utils.module_loading import autodiscover_modules
from rest_framework.routers import DefaultRouter

api_router = DefaultRouter()


def api_urls():
    """The router's URLs after every installed app's ``api/urls.py`` has registered its viewsets."""
    autodiscover_modules("api.urls")
    return api_router.urls
