from platform_site.api.routers import api_router

from .views import AlertDefinitionViewSet, AlertDeliveryViewSet, AlertEventViewSet

api_router.register("alert-definitions", AlertDefinitionViewSet, basename="alert-definition")
api_router.register("alert-events", AlertEventViewSet, basename="alert-event")
api_router.register("alert-deliveries", AlertDeliveryViewSet, basename="alert-delivery")
