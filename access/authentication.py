"""Token authentication: knox's hashed tokens, plus the time each token was last used."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication

# Recording every request would turn each API read into a write; a minute is precise enough to see
# which tokens are in use.
LAST_USED_PRECISION = timedelta(minutes=1)


class ApiTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <token>``. Expired tokens are refused (and deleted by knox); revoked
    tokens no longer exist. A successful use stamps ``last_used_at`` at most once a minute."""

    def validate_user(self, auth_token):
        user, token = super().validate_user(auth_token)
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
            type(token).objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return user, token


class ApiTokenScheme(OpenApiAuthenticationExtension):
    """Documents ``Authorization: Token <token>`` in the OpenAPI schema."""

    target_class = "access.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Token-based authentication: "Token <token>" (create one at /api/v1/tokens/).',
        }
