from platform_site.api.routers import api_router

from .views import DatasetViewSet, QueryResultViewSet, SavedQueryViewSet

api_router.register("saved-queries", SavedQueryViewSet, basename="saved-query")
api_router.register("query-results", QueryResultViewSet, basename="query-result")
api_router.register("datasets", DatasetViewSet, basename="dataset")
