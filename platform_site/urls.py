from django.contrib import admin
from django.urls import include, path
from django.views.decorators.cache import cache_page
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from platform_site import health, metrics
from platform_site.admin_navigation import favicon_redirect
from platform_site.api.routers import api_urls

urlpatterns = [
    # Staff start at the admin; browsers asking for /favicon.ico get the admin's icon.
    path("", RedirectView.as_view(url="/admin/", permanent=False), name="home"),
    path("favicon.ico", favicon_redirect),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_urls())),
    # Generating the schema takes about a second and it only changes with the code: keep it a while.
    path("api/schema/", cache_page(300)(SpectacularAPIView.as_view()), name="schema"),
    path("api/schema/swagger/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/schema/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    # The address people guess for the API docs leads to them.
    path("api/docs", RedirectView.as_view(pattern_name="swagger-ui", permanent=False)),
    path("api/docs/", RedirectView.as_view(pattern_name="swagger-ui", permanent=False), name="api-docs"),
    # Unauthenticated probes for load balancers and orchestrators, and the Prometheus scrape.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
]
