from platform_site.api.routers import api_router

from .views import AddressLabelViewSet

api_router.register("address-labels", AddressLabelViewSet, basename="address-label")
