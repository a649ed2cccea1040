from platform_site.api.routers import api_router

from .views import ApiTokenViewSet

api_router.register("tokens", ApiTokenViewSet, basename="token")
