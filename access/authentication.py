"""Token authentication: knox's hashed tokens, plus the time each token was last used."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.throttling import SimpleRateThrottle

# Recording every request would turn each API read into a write; a minute is precise enough to see
# which tokens are in use.
LAST_USED_PRECISION = timedelta(minutes=1)


class FailedTokenThrottle(SimpleRateThrottle):
    """Counts requests whose token was refused, per client address; past the rate
    (``API_THROTTLE_FAILED_TOKEN``) every token request from that address is a 429 until the window
    passes, so tokens cannot be guessed at the speed of the network."""

    scope = "failed_token"

    def get_rate(self) -> str:
        return settings.API_THROTTLE_FAILED_TOKEN

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def exceeded(self, request) -> bool:
        """Whether the address used up its failures (reads the history without adding to it)."""
        self.key = self.get_cache_key(request, None)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        return len(self.history) >= self.num_requests

    def record_failure(self, request) -> None:
        self.exceeded(request)
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)


class ApiTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <token>``. Expired tokens are refused (and deleted by knox); revoked
    tokens no longer exist. A successful use stamps ``last_used_at`` at most once a minute. Refused
    tokens are throttled per client address (:class:`FailedTokenThrottle`)."""

    def authenticate(self, request):
        throttle = FailedTokenThrottle()
        if _has_token_header(request) and throttle.exceeded(request):
            raise Throttled(wait=throttle.wait(), detail="Too many refused tokens from this address.")
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            throttle.record_failure(request)
            raise

    def validate_user(self, auth_token):
        user, token = super().validate_user(auth_token)
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_PRECISION:
            type(token).objects.filter(pk=token.pk).update(last_used_at=now)
            token.last_used_at = now
        return user, token


def _has_token_header(request) -> bool:
    return request.META.get("HTTP_AUTHORIZATION", "").split(" ", 1)[0].lower() == "token"


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
