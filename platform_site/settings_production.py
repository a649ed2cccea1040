"""Production settings: ``DJANGO_SETTINGS_MODULE=platform_site.settings_production``.

Everything of :mod:`platform_site.settings`, plus what a deployment must have: a ``SECRET_KEY`` and
``ALLOWED_HOSTS`` from the environment (no generated key: every web process on every host must
sign with the same one), HTTPS behind a TLS-terminating proxy (HSTS, secure cookies, redirect),
``DEBUG`` forced off, and static files collected, hashed and compressed by whitenoise.
``manage.py check --deploy`` passes with no warning under the environment the README documents.
"""

import os

from .config import ConfigError, env_bool, env_int, env_list

if not os.environ.get("SECRET_KEY"):
    raise ConfigError("SECRET_KEY must be set in production (the same long random value on every host)")
if not os.environ.get("ALLOWED_HOSTS"):
    raise ConfigError("ALLOWED_HOSTS must list the platform's host names in production")
if env_bool("DEBUG", default=False):
    raise ConfigError("DEBUG must be off in production")

from django.conf import global_settings

from .settings import *  # noqa: F403

DEBUG = False

# The proxy terminates TLS and says so in X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("CHAINLAKE_SSL_REDIRECT", default=True)
# Health and metrics answer the load balancer and the scraper on plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("CHAINLAKE_HSTS_SECONDS", 365 * 24 * 3600, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("CHAINLAKE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env_bool("CHAINLAKE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [f"https://{host}" for host in ALLOWED_HOSTS])  # noqa: F405

# collectstatic writes hashed, compressed copies; whitenoise serves them with far-future caching.
STORAGES = {
    **global_settings.STORAGES,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False
