"""Configuration read from the environment.

Everything a deployment changes comes from environment variables; everything a developer needs on a
fresh machine has a working default under the data folder (``CHAINLAKE_DATA_DIR``, default
``.data/`` beside ``manage.py``). A bad value raises :class:`ConfigError`, whose message is one line
that ``manage.py`` prints instead of a traceback.
"""

from __future__ import annotations

import math
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


def _bounds(minimum: float | None, maximum: float | None) -> str:
    """The range a number must fall in, as the end of an error message ("" when any will do)."""
    if minimum is not None and maximum is not None:
        return f" from {_shown(minimum)} to {_shown(maximum)}"
    if minimum is not None:
        return f" of at least {_shown(minimum)}"
    if maximum is not None:
        return f" of at most {_shown(maximum)}"
    return ""


def _shown(bound: float) -> str:
    return str(bound) if isinstance(bound, int) else f"{bound:g}"


def _within(value: float, minimum: float | None, maximum: float | None) -> bool:
    return (minimum is None or value >= minimum) and (maximum is None or value <= maximum)


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """A whole number from the environment (``default`` when unset or empty), within the bounds."""
    raw = os.environ.get(name, "")
    if not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = None
    if value is None or not _within(value, minimum, maximum):
        raise ConfigError(f"{name}={raw!r} is not a whole number{_bounds(minimum, maximum)}")
    return value


def env_float(
    name: str,
    default: float,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
    unit: str = "",
) -> float:
    """A finite number from the environment (``default`` when unset or empty), within the bounds;
    ``positive`` refuses zero too, for durations a loop waits on."""
    raw = os.environ.get(name, "")
    if not raw.strip():
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not _within(value, minimum, maximum) or (positive and value <= 0):
        kind = ("a positive number" if positive else "a number") + (f" of {unit}" if unit else "")
        raise ConfigError(f"{name}={raw!r} is not {kind}{_bounds(minimum, maximum)}")
    return value


def env_seconds(name: str, default: float) -> float:
    """A positive number of seconds from the environment."""
    return env_float(name, default, positive=True, unit="seconds")


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


# A lease must outlive the attempt it covers by this much: the time to record the outcome.
LEASE_MARGIN_SECONDS = 5.0


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
