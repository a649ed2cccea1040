from platform_site.api.routers import api_router

from .views import ContractViewSet

api_router.register("contracts", ContractViewSet, basename="contract")
