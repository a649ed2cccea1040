from platform_site.api.routers import api_router

from .views import DataInvalidationViewSet, DatasetCursorViewSet, PartitionVersionViewSet

api_router.register("partitions", PartitionVersionViewSet, basename="partition")
api_router.register("dataset-cursors", DatasetCursorViewSet, basename="dataset-cursor")
api_router.register("invalidations", DataInvalidationViewSet, basename="invalidation")
