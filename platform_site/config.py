"""Configuration read from the environment.

Everything a deployment changes comes from environment variables; everything a developer needs on a
fresh machine has a working default under the data folder (``CHAINLAKE_DATA_DIR``, default
``.data/`` beside ``manage.py``). A bad value raises :class:`ConfigError`, whose message is one line
that ``manage.py`` prints instead of a traceback.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


class ConfigError(Exception):
    """A configuration problem the operator must fix; the message is the whole explanation."""


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if not raw:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def data_dir() -> Path:
    """The writable folder for local state: embedded database, lake, secret key."""
    path = Path(os.environ.get("CHAINLAKE_DATA_DIR") or BASE_DIR / ".data").expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        # An anonymous file of this process's own: web, workers and commands start together, and a
        # shared probe name would let one process delete the file another is checking.
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        raise ConfigError(
            f"data folder {path} is not writable ({exc.strerror or exc}); "
            "set CHAINLAKE_DATA_DIR to a writable folder"
        ) from None
    return path


def secret_key(folder: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the data folder."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    key_file = folder / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def storage_url(folder: Path) -> str:
    """Where the lake and the query result store live: ``file://…`` or ``s3://bucket/prefix``."""
    url = os.environ.get("STORAGE_URL") or (folder / "lake").as_uri()
    if not url.startswith(("file://", "s3://")):
        raise ConfigError(f"STORAGE_URL={url!r} must start with file:// or s3://")
    return url.rstrip("/")


def env_whole_number(name: str, default: int, *, minimum: int = 1) -> int:
    """A whole number from the environment, at least ``minimum``."""
    raw = os.environ.get(name, "").strip() or str(default)
    if not raw.isdigit() or int(raw) < minimum:
        raise ConfigError(f"{name}={raw!r} is not a whole number of at least {minimum}")
    return int(raw)


# A lease must outlive the attempt it covers by this much: the time to record the outcome.
LEASE_MARGIN_SECONDS = 5.0


def env_seconds(name: str, default: float) -> float:
    """A positive number of seconds from the environment."""
    raw = os.environ.get(name) or str(default)
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"{name}={raw!r} is not a positive number of seconds")
    return value


def delivery_deadline(deadline: float, lease: float) -> float:
    """The total deadline of one delivery attempt, which must end before its lease does: a worker
    still sending when its lease runs out would send the delivery a second time beside the worker
    that took it over."""
    if deadline + LEASE_MARGIN_SECONDS > lease:
        raise ConfigError(
            f"CHAINLAKE_ALERT_DELIVERY_DEADLINE={deadline:g} must be at least {LEASE_MARGIN_SECONDS:g} s "
            f"below CHAINLAKE_ALERT_LEASE_SECONDS={lease:g} (a lease must outlive its attempt)"
        )
    return deadline
