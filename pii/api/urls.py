from platform_site.api.routers import api_router

from .views import PiiAccessLogViewSet

api_router.register("pii-access-log", PiiAccessLogViewSet, basename="pii-access-log")
