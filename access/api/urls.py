from platform_site.api.routers import api_router

from .people_views import OrgRoleMembershipViewSet, OrgRoleViewSet, OrgViewSet, UserViewSet
from .views import ApiTokenViewSet

api_router.register("orgs", OrgViewSet, basename="org")
api_router.register("users", UserViewSet, basename="user")
api_router.register("org-roles", OrgRoleViewSet, basename="org-role")
api_router.register("org-role-memberships", OrgRoleMembershipViewSet, basename="org-role-membership")
api_router.register("tokens", ApiTokenViewSet, basename="token")
