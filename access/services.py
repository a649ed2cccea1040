"""Creating and revoking API tokens."""

from __future__ import annotations

from datetime import timedelta

from knox.settings import knox_settings

from orgs.models import User

from .models import ApiToken


def api_token_create(
    *, user: User, name: str = "", expires_in: timedelta | None = None
) -> tuple[ApiToken, str]:
    """A new token for ``user``; returns the row and the secret, which is never stored."""
    return ApiToken.objects.create(user=user, expiry=expires_in or knox_settings.TOKEN_TTL, name=name)


def api_token_revoke(*, token: ApiToken) -> None:
    """Revoke: the digest is deleted, so the token can never authenticate again."""
    token.delete()


def api_tokens_revoke_all(*, user: User) -> int:
    """Revoke every token of ``user`` (their password changed); returns how many there were."""
    deleted, _ = ApiToken.objects.filter(user=user).delete()
    return deleted
